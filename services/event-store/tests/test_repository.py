from datetime import UTC, datetime, timedelta

from contracts import ConversationEvent
from event_store.models import DeadLetter
from event_store.repository import Repository


def _event(cid: str = "c1", n: int = 0, **kw: object) -> ConversationEvent:
    fields: dict[str, object] = {
        "conversation_id": cid,
        "source": "voice",
        "type": "transcript",
        "payload": {"role": "user", "text": f"line {n}"},
    }
    fields.update(kw)
    return ConversationEvent.model_validate(fields)


async def test_inserting_the_same_event_twice_stores_it_once(repo: Repository) -> None:
    events = [_event(n=i) for i in range(5)]
    first = await repo.insert_events(events)
    again = await repo.insert_events([events[2], _event(n=9), events[4]])
    assert (len(first.inserted), first.duplicates) == (5, 0)
    assert (len(again.inserted), again.duplicates) == (1, 2)
    stored = await repo.list_events("c1", limit=100)
    assert [e.payload["text"] for e in stored] == [f"line {i}" for i in (0, 1, 2, 3, 4, 9)]
    assert [e.event_id for e in stored[:5]] == [e.id for e in events]


async def test_events_create_their_conversation_and_move_its_activity(repo: Repository) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    await repo.insert_events([_event(timestamp=t0), _event(timestamp=t0 + timedelta(minutes=5))])
    await repo.insert_events([_event(timestamp=t0 + timedelta(minutes=1))])  # late arrival
    conversation = await repo.get_conversation("c1")
    assert conversation is not None
    assert (conversation.created_at, conversation.updated_at) == (t0, t0 + timedelta(minutes=5))
    assert conversation.event_count == 3


async def test_paging_and_filters(repo: Repository) -> None:
    await repo.insert_events(
        [_event(n=i) for i in range(10)] + [_event(type="error", payload={"message": "x"})]
    )
    first = await repo.list_events("c1", limit=4)
    rest = await repo.list_events("c1", after=first[-1].id, limit=100)
    assert len(first) == 4
    assert len(rest) == 7
    assert [e.id for e in first + rest] == sorted(e.id for e in first + rest)
    errors = await repo.list_events("c1", limit=100, type_="error")
    assert [e.payload for e in errors] == [{"message": "x"}]
    assert await repo.list_events("c1", limit=100, source="nested_agent") == []


async def test_dead_letters_are_kept_with_the_batch(repo: Repository) -> None:
    await repo.insert_events([_event()], [DeadLetter(stream_id="1-0", reason="bad", raw="x")])
    [letter] = await repo.list_dead_letters(limit=10, after=None)
    assert (letter.stream_id, letter.reason, letter.raw) == ("1-0", "bad", "x")


async def test_conversation_lifecycle(repo: Repository) -> None:
    created = await repo.create_conversation(
        conversation_id="talk", name="Talk", voice_model="alloy", metadata={"k": 1}
    )
    assert created is not None
    assert created.name == "Talk"
    assert (
        await repo.create_conversation(
            conversation_id="talk", name=None, voice_model=None, metadata={}
        )
        is None
    )
    renamed = await repo.update_conversation("talk", name="Renamed", metadata=None)
    assert renamed is not None
    assert (renamed.name, renamed.metadata) == ("Renamed", {"k": 1})
    await repo.insert_events([_event("talk")])
    assert await repo.delete_conversation("talk")
    assert await repo.get_conversation("talk") is None
    assert await repo.list_events("talk", limit=10) == []  # cascaded
    assert not await repo.delete_conversation("talk")


async def test_cleanup_deletes_only_inactive_conversations(repo: Repository) -> None:
    old = datetime.now(UTC) - timedelta(hours=2)
    await repo.insert_events([_event("stale", timestamp=old), _event("fresh")])
    assert await repo.delete_inactive(30) == ["stale"]
    assert [c.id for c in await repo.list_conversations(limit=10, offset=0)] == ["fresh"]


async def test_hostile_text_is_stored_verbatim(repo: Repository) -> None:
    hostile = "'); DROP TABLE conversation_events; --"
    await repo.insert_events([_event(payload={"text": hostile, "bad": "\ud800"})])
    [stored] = await repo.list_events("c1", limit=10)
    assert stored.payload == {"text": hostile, "bad": "\ud800"}
