"""Settings from the environment as compose and .env files give them."""

import pytest

from event_store.settings import Settings


def test_an_empty_token_leaves_the_api_open(monkeypatch: pytest.MonkeyPatch) -> None:
    # `GATEWAY_TOKEN=` in .env: no token, not the empty string as a token.
    monkeypatch.setenv("GATEWAY_TOKEN", "")
    monkeypatch.setenv("GATEWAY_ALLOWED_ORIGINS", "")
    settings = Settings()
    assert settings.token is None
    assert settings.allowed_origins == []
