"""Settings from the environment as compose and .env files give them."""

import pytest

from voice_gateway.settings import Settings


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # `.env.example` lines like `VOICE_BRAIN=` and compose's `${GATEWAY_TOKEN:-}` pass "".
    names = (
        "VOICE_BRAIN",
        "OPENAI_API_KEY",
        "LLM_BASE_URL",
        "GATEWAY_TOKEN",
        "GATEWAY_OPENAI_MODEL",
    )
    for name in names:
        monkeypatch.setenv(name, "")
    settings = Settings()
    assert settings.brain == "local"  # as with no VOICE_BRAIN and no key at all
    assert settings.llm_base_url is None
    assert settings.token is None
    assert settings.openai_model is None
