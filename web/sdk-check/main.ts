/**
 * Pipecat's official browser SDK, configured as its documentation shows, talking to the gateway's
 * RTVI format through nginx. Not part of the product's client: `tests/e2e/test_pipecat_sdk.py`
 * serves this page to check that the gateway takes what the SDK sends by default (16 kHz mono
 * microphone audio, protobuf frames) and sends what it plays.
 *
 * The one departure from the SDK's defaults: the WebSocket transport's default media manager is
 * Daily's, which downloads its call bundle from Daily's CDN when it starts. `WavMediaManager`
 * (the SDK's other manager, also exported by the transport) captures and plays in the page
 * itself, at the same 16 kHz and 512-sample chunks the default uses.
 */
import { PipecatClient, type RTVIMessage, type TranscriptData } from "@pipecat-ai/client-js";
import { WavMediaManager, WebSocketTransport } from "@pipecat-ai/websocket-transport";

const SDK_RECORDER_SAMPLE_RATE = 16000; // WebSocketTransport.RECORDER_SAMPLE_RATE
const SDK_RECORDER_CHUNK = 512;

interface Seen {
  ready: boolean;
  userTranscripts: string[];
  serverMessages: Record<string, unknown>[];
  botAudioSamples: number; // handed to the SDK's player
  botAudioPeak: number;
  errors: string[];
  disconnected: boolean;
}

const seen: Seen = {
  ready: false,
  userTranscripts: [],
  serverMessages: [],
  botAudioSamples: 0,
  botAudioPeak: 0,
  errors: [],
  disconnected: false,
};
(window as unknown as { sdkCheck: Seen }).sdkCheck = seen;

const log = (line: string) => {
  document.getElementById("log")!.textContent += `${line}\n`;
};

// Count what reaches the SDK's player (it plays through its own AudioContext).
const media = new WavMediaManager(SDK_RECORDER_CHUNK, SDK_RECORDER_SAMPLE_RATE);
const bufferBotAudio = media.bufferBotAudio.bind(media);
media.bufferBotAudio = (data: ArrayBuffer | Int16Array, id?: string) => {
  const samples = data instanceof Int16Array ? data : new Int16Array(data);
  seen.botAudioSamples += samples.length;
  for (const sample of samples) seen.botAudioPeak = Math.max(seen.botAudioPeak, Math.abs(sample));
  return bufferBotAudio(data, id);
};

const client = new PipecatClient({
  transport: new WebSocketTransport({ mediaManager: media }),
  enableMic: true,
  enableCam: false,
  callbacks: {
    onBotReady: () => {
      seen.ready = true;
      log("bot ready");
    },
    onUserTranscript: (data: TranscriptData) => {
      if (data.final) seen.userTranscripts.push(data.text);
      log(`user: ${data.text}`);
    },
    onServerMessage: (data: Record<string, unknown>) => {
      seen.serverMessages.push(data);
      log(`server-message: ${JSON.stringify(data).slice(0, 200)}`);
    },
    onError: (message: RTVIMessage) => {
      seen.errors.push(JSON.stringify(message.data));
      log(`error: ${JSON.stringify(message.data)}`);
    },
    onDisconnected: () => {
      seen.disconnected = true;
      log("disconnected");
    },
  },
});

const query = new URLSearchParams(location.search);
const conversation = query.get("conversation") ?? "sdk-check";
const gateway = query.get("gateway") ?? `wss://${location.host}`; // e.g. wss://voice.example:8443
const wsUrl = `${gateway}/api/realtime/pipecat/ws/${encodeURIComponent(conversation)}?format=rtvi`;
client.connect({ wsUrl }).catch((error: unknown) => {
  seen.errors.push(String(error));
  log(`connect failed: ${String(error)}`);
});
