import pytest
from pydantic import SecretStr

from service_kit.access import (
    MAX_TOKEN_CHARS,
    bearer_token,
    origin_allowed,
    token_matches,
)

SECRET = SecretStr("s3cret")


def test_token_matches() -> None:
    assert token_matches(None, None)  # no token configured: open
    assert token_matches(None, "anything")
    assert token_matches(SECRET, "s3cret")
    assert not token_matches(SECRET, None)
    assert not token_matches(SECRET, "")
    assert not token_matches(SECRET, "S3CRET")
    assert not token_matches(SECRET, "s3cret" + "x" * MAX_TOKEN_CHARS)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer s3cret", "s3cret"),
        ("bearer s3cret", "s3cret"),  # the scheme is case-insensitive (RFC 9110)
        ("BEARER  s3cret ", "s3cret"),
        ("Basic czNjcmV0", None),
        ("Bearer", None),
        ("s3cret", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_origin_allowed() -> None:
    allowed = ["https://voice.example"]
    assert origin_allowed("https://voice.example", allowed)
    assert not origin_allowed("https://evil.example", allowed)
    assert not origin_allowed("null", allowed)  # a sandboxed page sends "null"
    assert origin_allowed(None, allowed)  # not a browser: the token guards it
    assert origin_allowed("https://evil.example", [])  # no list: every origin
