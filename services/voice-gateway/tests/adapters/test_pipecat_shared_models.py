"""The canary for pipecat_shared_models.py: the shared analyzers must still be Pipecat's own,
attribute for attribute and score for score. A Pipecat upgrade that changes the analyzers'
constructors fails here (and at the gateway's start), not quietly in a conversation."""

import pytest
from pipecat.audio.vad.silero import SileroVADAnalyzer

from voice_gateway.adapters import pipecat_shared_models as shared


def test_the_shared_analyzers_match_the_installed_pipecat() -> None:
    shared.self_check()


def test_one_model_serves_every_session_with_state_of_its_own() -> None:
    first, second = shared.SharedSileroVAD(sample_rate=16_000), shared.SharedSileroVAD()
    assert first._model.session is second._model.session is shared.silero_session()
    assert first._model is not second._model  # Silero's recurrent state is per stream
    assert shared.SharedSmartTurn()._session is shared.SharedSmartTurn()._session


def test_a_changed_constructor_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if an upgrade added an attribute to Pipecat's analyzer that the copy lacks."""
    original = SileroVADAnalyzer.__init__

    def upgraded(self: SileroVADAnalyzer, **kwargs: object) -> None:
        original(self, **kwargs)  # type: ignore[arg-type]
        self.new_state = 0

    monkeypatch.setattr(SileroVADAnalyzer, "__init__", upgraded)
    with pytest.raises(shared.PipecatMismatch, match="new_state"):
        shared.self_check()


def test_another_pipecat_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared.pipecat, "__version__", "1.15.0")
    with pytest.raises(shared.PipecatMismatch, match=r"found 1\.15\.0"):
        shared.self_check()
