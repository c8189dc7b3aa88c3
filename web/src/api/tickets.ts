/**
 * Socket tickets. A WebSocket's URL is the only place a browser can put a credential, and URLs
 * are logged (nginx, the services), so the token never goes there: right before each socket
 * opens, the token (in a header) buys a ticket good once, for that conversation and that socket,
 * for a few seconds (GATEWAY_TICKET_TTL_S), and the ticket goes in the URL instead.
 */
import type { TicketPurpose } from "../protocol/vocabulary";
import { request } from "./client";
import { getToken } from "./token";

export const TICKETS = "/api/realtime/pipecat/tickets";

interface TicketGrant {
  ticket: string;
  expires_in_s: number;
}

/** A fresh ticket for one socket of one conversation (rejects with `ApiError`). */
export async function requestTicket(conversationId: string, purpose: TicketPurpose): Promise<string> {
  const grant = await request<TicketGrant>(TICKETS, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ conversation_id: conversationId, purpose }),
  });
  return grant.ticket;
}

/**
 * A fresh ticket when a token is set; null when none is: an open stack needs none, and a closed
 * one refuses the socket with a reason that says a token is needed.
 */
export function ticketIfNeeded(conversationId: string, purpose: TicketPurpose): Promise<string> | null {
  return getToken() ? requestTicket(conversationId, purpose) : null;
}
