from typing import Literal

import pytest
from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service_kit.settings import load_settings


class Example(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")
    log_level: Literal["debug", "info"] = "info"
    token: str | None = None

    @model_validator(mode="after")
    def _token_needs_debug(self) -> "Example":
        if self.token == "needs-debug" and self.log_level != "debug":
            raise ValueError("EXAMPLE_TOKEN needs EXAMPLE_LOG_LEVEL=debug")
        return self


def test_good_settings_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_LOG_LEVEL", "debug")
    assert load_settings(Example, "example").log_level == "debug"


def test_a_bad_value_is_named_in_one_line_and_not_echoed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXAMPLE_LOG_LEVEL", "secret-looking-value")
    with pytest.raises(SystemExit) as exited:
        load_settings(Example, "example")
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "example: not started, its configuration is invalid:",
        "  EXAMPLE_LOG_LEVEL: Input should be 'debug' or 'info'",
    ]


def test_a_check_across_settings_says_its_own_words(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXAMPLE_TOKEN", "needs-debug")
    with pytest.raises(SystemExit):
        load_settings(Example, "example")
    assert capsys.readouterr().err.splitlines()[1:] == [
        "  EXAMPLE_TOKEN needs EXAMPLE_LOG_LEVEL=debug"
    ]
