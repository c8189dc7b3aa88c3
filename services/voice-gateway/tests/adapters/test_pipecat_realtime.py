"""Canary: fails on a Pipecat upgrade that changes what RealtimeLLM overrides or reads."""

import pytest
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService

from voice_gateway.adapters import pipecat_realtime
from voice_gateway.adapters.pipecat_realtime import PipecatMismatch, self_check


def test_the_installed_pipecat_has_what_the_adapter_overrides() -> None:
    self_check()


def test_a_missing_method_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipecat_realtime, "OVERRIDDEN", ("_connect", "_gone_in_a_new_pipecat"))
    with pytest.raises(PipecatMismatch, match="_gone_in_a_new_pipecat"):
        self_check()


def test_a_missing_attribute_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipecat_realtime, "READ", ("_websocket", "_renamed_state"))
    with pytest.raises(PipecatMismatch, match="_renamed_state"):
        self_check()


def test_every_override_is_one_of_pipecats_methods() -> None:
    for name in pipecat_realtime.OVERRIDDEN:
        assert name in vars(pipecat_realtime.RealtimeLLM), name
        assert hasattr(OpenAIRealtimeLLMService, name), name
