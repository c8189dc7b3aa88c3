"""The gateway's own Pipecat frame processors: the session's taps, and Piper speech synthesis."""
