/** What the AudioWorkletGlobalScope provides (TypeScript's DOM library does not describe it). */
export interface WorkletProcessor {
  readonly port: MessagePort;
  process(inputs: Float32Array[][], outputs: Float32Array[][], parameters: unknown): boolean;
}

interface WorkletScope {
  sampleRate: number;
  AudioWorkletProcessor: new () => { readonly port: MessagePort };
  registerProcessor(name: string, ctor: new (options: AudioWorkletNodeOptions) => WorkletProcessor): void;
}

export const scope = globalThis as unknown as WorkletScope;
