"""The Pipecat version the adapters were written against, and the error they raise when the
installed one differs. Its own module, so that the Realtime adapter can name it without loading
the local brain's models (onnxruntime alone is about 20 MB of a Realtime-only gateway)."""

PIPECAT_VERSION = "1.14.0"


class PipecatMismatch(RuntimeError):
    """The installed Pipecat no longer matches what an adapter mirrors or overrides."""
