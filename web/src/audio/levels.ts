/** Live meter levels (0..1), published by the audio engine and read by the meters directly,
 * outside React state, so 20 updates a second re-render nothing. */
export interface Levels {
  mic: number;
  assistant: number;
}

export const levels: Levels = { mic: 0, assistant: 0 };
const listeners = new Set<() => void>();

export function publishLevels(mic: number, assistant: number): void {
  levels.mic = mic;
  levels.assistant = assistant;
  for (const listener of listeners) listener();
}

export function subscribeLevels(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
