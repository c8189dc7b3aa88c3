"""A gateway with the Realtime brain does not load the local brain's machinery: onnxruntime and
the speech models' code are about 20 MB of its memory, for nothing."""

import subprocess
import sys

LOCAL_ONLY = ("onnxruntime", "faster_whisper", "piper", "pipecat.audio.vad.silero")


def test_the_app_imports_none_of_the_local_brain() -> None:
    probe = (
        "import sys, voice_gateway.app; "
        f"print(','.join(m for m in {LOCAL_ONLY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""
