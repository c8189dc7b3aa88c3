// Generated from libs/contracts/src/contracts/session.py, browser.py, progress.py and
// tickets.py by scripts/gen_web_vocabulary.py: do not edit (a test fails when it is
// stale).

export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  BRAIN_UNAVAILABLE: 4001,
  RESUME_REFUSED: 4002,
  REPLACED: 4003,
  JOIN_REFUSED: 4004,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export const EndReason = {
  CLIENT_CLOSED: "client_closed",
  STOPPED: "stopped",
  IDLE: "idle",
  MAX_DURATION: "max_duration",
  UPSTREAM_ERROR: "upstream_error",
  ERROR: "error",
  SHUTDOWN: "shutdown",
  CLIENT_STALLED: "client_stalled",
  RESUME_EXPIRED: "resume_expired",
} as const;
export type EndReason = (typeof EndReason)[keyof typeof EndReason];

export const RefusalKind = {
  ORIGIN: "origin",
  TOKEN: "token",
  TICKET: "ticket",
  BRAIN_UNAVAILABLE: "brain_unavailable",
  CAPACITY: "capacity",
  ADDRESS_RATE: "address_rate",
  ADDRESS_SESSIONS: "address_sessions",
  RESUME: "resume",
  JOIN: "join",
} as const;
export type RefusalKind = (typeof RefusalKind)[keyof typeof RefusalKind];

export const ErrorCode = {
  ODD_LENGTH_AUDIO: "odd_length_audio",
  INVALID_JSON: "invalid_json",
  INVALID_MESSAGE: "invalid_message",
  UNKNOWN_TYPE: "unknown_type",
  RATE_LIMITED: "rate_limited",
  NOT_PROTOBUF: "not_protobuf",
  INVALID_PROTOBUF: "invalid_protobuf",
  UNSUPPORTED_FRAME: "unsupported_frame",
  UNSUPPORTED_AUDIO: "unsupported_audio",
  UPSTREAM_ERROR: "upstream_error",
  BRAIN_ERROR: "brain_error",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const ProgressKind = {
  SAID: "said",
  TOOL_CALL: "tool_call",
  TOOL_RESULT: "tool_result",
  ERROR: "error",
  RESULT: "result",
} as const;
export type ProgressKind = (typeof ProgressKind)[keyof typeof ProgressKind];

export const TicketPurpose = {
  VOICE: "voice",
  EVENTS: "events",
} as const;
export type TicketPurpose = (typeof TicketPurpose)[keyof typeof TicketPurpose];

/** Where a team or Claude Code event carries its `RunProgress`. */
export const PROGRESS_KEY = "progress";

/** The peak (of 32767) of a microphone frame the user is speaking in: where the
 * gateway's voice latency and the client's mouth-to-ear both start. */
export const VOICED_PEAK = 500;

/** Sessions that ended as somebody meant: not reconnected. */
export const DELIBERATE_ENDS: ReadonlySet<string> = new Set([EndReason.CLIENT_CLOSED, EndReason.IDLE, EndReason.MAX_DURATION, EndReason.RESUME_EXPIRED, EndReason.STOPPED]);

/** Transient closes: reconnected with backoff. */
export const RETRYABLE_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.GOING_AWAY, 1005, 1006, CloseCode.INTERNAL_ERROR, 1012, CloseCode.TRY_AGAIN_LATER, 1014]);
