"""voice-gateway: the browser's WebSocket into a Pipecat voice pipeline."""
