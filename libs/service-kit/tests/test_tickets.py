"""Session tickets against a real Redis: issued for one conversation and socket, redeemed once,
gone after their time, refused with a reason; and the socket rule every service applies."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr, ValidationError
from redis.asyncio import Redis

from contracts.keys import TICKET_KEY_PREFIX
from contracts.session import CloseCode, RefusalKind
from contracts.tickets import TicketPurpose
from harness.redis_server import RedisServer
from harness.waiting import async_wait_until
from service_kit.access import (
    SOCKET_REQUIRED_DETAIL,
    TOKEN_IN_URL_DETAIL,
    SocketRefused,
    check_socket_credentials,
)
from service_kit.tickets import TicketRefused, issue_ticket, redeem_ticket, redis_key

VOICE, EVENTS = TicketPurpose.VOICE, TicketPurpose.EVENTS
UNKNOWN = "the ticket is unknown or has expired; ask for a new one"
USED = "the ticket was already used; ask for a new one"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=1)
    yield client
    await client.aclose()


async def _refusal(
    redis: Redis, ticket: str, cid: str = "c1", purpose: TicketPurpose = VOICE
) -> str:
    with pytest.raises(TicketRefused) as refused:
        await redeem_ticket(redis, ticket, conversation_id=cid, purpose=purpose)
    return refused.value.reason


async def test_a_ticket_is_redeemed_once(redis: Redis) -> None:
    grant = await issue_ticket(redis, "c1", VOICE)
    assert grant.expires_in_s == 30
    assert len(grant.ticket) >= 43  # 256 random bits, URL-safe
    await redeem_ticket(redis, grant.ticket, conversation_id="c1", purpose=VOICE)
    assert await _refusal(redis, grant.ticket) == USED
    assert await _refusal(redis, grant.ticket) == USED  # and again: still used, not unknown
    other = await issue_ticket(redis, "c1", VOICE)  # tickets are independent
    assert other.ticket != grant.ticket
    await redeem_ticket(redis, other.ticket, conversation_id="c1", purpose=VOICE)


async def test_two_racing_redemptions_let_one_through(redis: Redis) -> None:
    grant = await issue_ticket(redis, "c1", EVENTS)
    results = await asyncio.gather(
        *(
            redeem_ticket(redis, grant.ticket, conversation_id="c1", purpose=EVENTS)
            for _ in range(8)
        ),
        return_exceptions=True,
    )
    assert results.count(None) == 1
    assert sorted({str(r) for r in results if r is not None}) == [USED]


async def test_the_key_is_a_hash_of_the_ticket_and_expires(redis: Redis) -> None:
    grant = await issue_ticket(redis, "c1", VOICE, ttl_s=0.3)
    keys = [key.decode() async for key in redis.scan_iter(f"{TICKET_KEY_PREFIX}*")]
    assert keys == [redis_key(grant.ticket)]
    assert grant.ticket not in keys[0]
    stored = await redis.get(keys[0])
    assert stored is not None
    assert grant.ticket.encode() not in stored
    assert 0 < await redis.pttl(keys[0]) <= 300

    async def gone() -> bool:
        return not await redis.exists(keys[0])

    await async_wait_until(gone, timeout_s=5, what="the ticket's key to expire")
    assert await _refusal(redis, grant.ticket) == UNKNOWN


async def test_a_redeemed_ticket_leaves_no_key_behind_past_its_time(redis: Redis) -> None:
    grant = await issue_ticket(redis, "c1", VOICE, ttl_s=0.3)
    await redeem_ticket(redis, grant.ticket, conversation_id="c1", purpose=VOICE)
    assert 0 < await redis.pttl(redis_key(grant.ticket)) <= 300  # the mark keeps the expiry

    async def gone() -> bool:
        return not await redis.exists(redis_key(grant.ticket))

    await async_wait_until(gone, timeout_s=5, what="the redeemed mark to expire")


async def test_a_ticket_opens_only_its_conversation_and_socket(redis: Redis) -> None:
    for_events = await issue_ticket(redis, "c1", EVENTS)
    reason = await _refusal(redis, for_events.ticket, "c1", VOICE)
    assert reason == "the ticket is for the events socket, not voice"
    other = await issue_ticket(redis, "c1", VOICE)
    assert (
        await _refusal(redis, other.ticket, "c2", VOICE) == "the ticket is for another conversation"
    )
    # Shown to the wrong socket, it is used up all the same.
    assert await _refusal(redis, other.ticket, "c1", VOICE) == USED
    assert await _refusal(redis, for_events.ticket, "c1", EVENTS) == USED


@pytest.mark.parametrize(
    "ticket", ["", "short", "a" * 129, "has space" * 3, "../../etc/passwd" * 2, "é" * 20]
)
async def test_a_malformed_ticket_is_refused_unread(redis: Redis, ticket: str) -> None:
    assert await _refusal(redis, ticket) == "the ticket is malformed"


async def test_an_unknown_ticket_is_refused(redis: Redis) -> None:
    assert await _refusal(redis, "A" * 43) == UNKNOWN


@pytest.mark.parametrize(
    ("cid", "purpose"), [("", "voice"), ("a/b", "voice"), ("x" * 129, "voice"), ("c1", "admin")]
)
async def test_bad_input_is_not_issued(redis: Redis, cid: str, purpose: str) -> None:
    with pytest.raises(ValidationError):
        await issue_ticket(redis, cid, purpose)
    assert [key async for key in redis.scan_iter(f"{TICKET_KEY_PREFIX}*")] == []


@pytest.mark.parametrize("ttl_s", [0, -1.0])
async def test_a_ticket_must_live_for_some_time(redis: Redis, ttl_s: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        await issue_ticket(redis, "c1", VOICE, ttl_s=ttl_s)


# --- the socket rule (service_kit.access), as both services apply it --------------------------

TOKEN = SecretStr("s3cret")


async def _check(
    redis: Redis,
    expected: SecretStr | None = TOKEN,
    *,
    authorization: str | None = None,
    query_token: str | None = None,
    ticket: str | None = None,
    cid: str = "c1",
) -> None:
    await check_socket_credentials(
        redis,
        expected,
        authorization=authorization,
        query_token=query_token,
        ticket=ticket,
        conversation_id=cid,
        purpose=VOICE,
    )


async def _socket_refusal(redis: Redis, **kwargs: str) -> SocketRefused:
    with pytest.raises(SocketRefused) as refused:
        await _check(redis, **kwargs)  # type: ignore[arg-type]
    return refused.value


async def test_sockets_are_open_without_a_configured_token(redis: Redis) -> None:
    await _check(redis, None)
    await _check(redis, None, query_token="anything", ticket="not-even-a-ticket")


async def test_a_socket_takes_the_header_or_a_ticket_never_a_token_in_the_url(
    redis: Redis,
) -> None:
    await _check(redis, authorization="Bearer s3cret")
    await _check(redis, authorization="bearer s3cret", ticket="ignored-when-the-header-is-there")
    refused = await _socket_refusal(redis, authorization="Bearer s3cret", query_token="s3cret")
    assert (refused.reason, refused.kind, refused.code) == (
        TOKEN_IN_URL_DETAIL, RefusalKind.TOKEN, CloseCode.POLICY,
    )  # fmt: skip
    for kwargs in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic s3cret"}):
        refused = await _socket_refusal(redis, **kwargs)
        assert (refused.reason, refused.kind) == (SOCKET_REQUIRED_DETAIL, RefusalKind.TOKEN)

    grant = await issue_ticket(redis, "c1", VOICE)
    await _check(redis, ticket=grant.ticket)
    refused = await _socket_refusal(redis, ticket=grant.ticket)
    assert (refused.reason, refused.kind, refused.code) == (USED, RefusalKind.TICKET, 1008)
    refused = await _socket_refusal(
        redis, ticket=(await issue_ticket(redis, "c1", VOICE)).ticket, cid="c2"
    )
    assert (refused.reason, refused.kind) == ("the ticket is for another conversation", "ticket")


async def test_redis_down_asks_the_client_to_try_again(
    redis: Redis, redis_server: RedisServer
) -> None:
    grant = await issue_ticket(redis, "c1", VOICE)
    redis_server.kill()
    refused = await _socket_refusal(redis, ticket=grant.ticket)
    assert (refused.kind, refused.code) == (RefusalKind.TICKET, CloseCode.TRY_AGAIN_LATER)
