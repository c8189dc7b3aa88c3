/** A conversation's recorded sessions: pick one, play it (left the user, right the assistant),
 * download it. While it plays, `onPosition` says when the audio at the playhead was heard (ms
 * since the epoch), for the transcript to follow. */
import { useEffect, useState } from "react";
import { downloadRecording, recordingFilename, recordingObjectUrl, recordingUrl } from "../api/client";
import { getToken } from "../api/token";
import type { Recording } from "../api/types";
import { formatWhen } from "../pages/format";
import { positionOf } from "../pages/recordingSync";

interface Props {
  conversationId: string;
  recordings: Recording[];
  onPosition: (position: number | null) => void;
  onError: (message: string) => void;
}

function length(seconds: number): string {
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function RecordingPlayer({ conversationId, recordings, onPosition, onError }: Props) {
  const finished = recordings.filter((r) => r.state === "finished");
  const [chosenId, setChosenId] = useState<string | null>(null);
  const chosen = finished.find((r) => r.id === chosenId) ?? finished[finished.length - 1];
  const [source, setSource] = useState<string | null>(null);

  useEffect(() => {
    if (!chosen) return;
    // With a token, the audio is fetched with the bearer header; without one, the element
    // streams it itself (and seeks with `Range` requests).
    if (!getToken()) {
      setSource(recordingUrl(conversationId, chosen.id));
      return;
    }
    let live = true;
    let objectUrl: string | null = null;
    setSource(null);
    recordingObjectUrl(conversationId, chosen.id)
      .then((url) => {
        objectUrl = url;
        if (live) setSource(url);
        else URL.revokeObjectURL(url);
      })
      .catch((e: unknown) => live && onError(messageOf(e)));
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [conversationId, chosen?.id]);

  if (recordings.length === 0) return null;
  const inProgress = recordings.length - finished.length;
  const follow = (audio: HTMLAudioElement) => chosen && onPosition(positionOf(chosen, audio.currentTime));

  return (
    <section className="recording" aria-label="Recording" data-testid="recording">
      {finished.length > 1 && (
        <label className="check">
          Recording{" "}
          <select
            value={chosen?.id}
            onChange={(e) => {
              onPosition(null);
              setChosenId(e.target.value);
            }}
            data-testid="recording-choice"
          >
            {finished.map((r) => (
              <option key={r.id} value={r.id}>
                {formatWhen(r.started_at)} · {length(r.duration_s)}
              </option>
            ))}
          </select>
        </label>
      )}
      {chosen ? (
        <>
          <audio
            controls
            preload="metadata"
            src={source ?? undefined}
            data-testid="recording-audio"
            aria-label={`Recording of ${formatWhen(chosen.started_at)}, ${length(chosen.duration_s)}`}
            onTimeUpdate={(e) => follow(e.currentTarget)}
            onSeeked={(e) => follow(e.currentTarget)}
            onEnded={() => onPosition(null)}
          />
          <a
            className="button ghost"
            href={new URL(recordingUrl(conversationId, chosen.id), window.location.origin).href}
            download={recordingFilename(conversationId, chosen.id)}
            data-testid="recording-download"
            onClick={(event) => {
              // A link cannot carry the bearer header: with a token, fetch and save instead.
              if (!getToken()) return;
              event.preventDefault();
              downloadRecording(conversationId, chosen.id).catch((e: unknown) => onError(messageOf(e)));
            }}
          >
            Download recording
          </a>
        </>
      ) : null}
      {inProgress > 0 && (
        <span className="muted small" data-testid="recording-in-progress">
          {inProgress === 1 ? "A session is still being recorded." : `${inProgress} sessions are still being recorded.`}
        </span>
      )}
    </section>
  );
}
