from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from contracts import ConversationEvent, new_event_id
from contracts.keys import EVENTS_STREAM_FIELD


def test_event_ids_are_unique_and_time_ordered() -> None:
    ids = [new_event_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert ids[0][:12] <= ids[-1][:12]


def test_stream_round_trip_keeps_every_field() -> None:
    event = ConversationEvent(
        conversation_id="c-1", source="voice", type="transcript", payload={"text": "hi"}
    )
    parsed = ConversationEvent.from_stream_fields(
        {k.encode(): v.encode() for k, v in event.to_stream_fields().items()}
    )
    assert parsed == event


def test_timestamps_are_normalised_to_utc() -> None:
    local = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    event = ConversationEvent(conversation_id="c", source="voice", type="t", timestamp=local)
    assert event.timestamp == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert event.timestamp.tzinfo == UTC


def test_a_timestamp_out_of_range_in_utc_is_a_validation_error() -> None:
    # Year 1 at +14:00 is before year 1 in UTC: a clear refusal, not an OverflowError that
    # would crash whoever parses it (the stream consumer, the API).
    raw = '{"conversation_id": "c", "source": "voice", "type": "t",'
    raw += ' "timestamp": "0001-01-01T00:00:00+14:00"}'
    with pytest.raises(ValidationError, match="out of range"):
        ConversationEvent.from_stream_fields({EVENTS_STREAM_FIELD: raw})


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {EVENTS_STREAM_FIELD: "not json"},
        {EVENTS_STREAM_FIELD: '{"conversation_id": "c"}'},
        {EVENTS_STREAM_FIELD: '{"conversation_id": "../etc", "source": "voice", "type": "t"}'},
        {EVENTS_STREAM_FIELD: '{"conversation_id": "c", "source": "voice", "type": "t", "x": 1}'},
        {
            EVENTS_STREAM_FIELD: '{"conversation_id": "c", "source": "voice", "type": "t",'
            ' "timestamp": "2026-01-01T00:00:00"}'
        },
    ],
    ids=["no-field", "bad-json", "missing-fields", "hostile-id", "extra-field", "naive-time"],
)
def test_malformed_entries_raise_value_error(fields: dict[str, str]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - ValidationError is a ValueError
        ConversationEvent.from_stream_fields(fields)


def test_ids_reject_traversal_and_oversize() -> None:
    for bad in ["../x", "", "a" * 129, "a b", "a/b", "'; DROP TABLE x;--"]:
        with pytest.raises(ValidationError):
            ConversationEvent(conversation_id=bad, source="voice", type="t")
