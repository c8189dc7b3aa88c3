"""Identifier formats, validated wherever an id enters from outside.

Ids appear in URLs, Redis keys and SQL parameters, so they are restricted to a small safe
alphabet: no slashes, no dots at the start, no whitespace, bounded length.
"""

from typing import Annotated

from pydantic import StringConstraints

CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
CONVERSATION_ID_MAX_LENGTH = 128
EVENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
EVENT_ID_MAX_LENGTH = 64

ConversationId = Annotated[
    str,
    StringConstraints(pattern=CONVERSATION_ID_PATTERN, max_length=CONVERSATION_ID_MAX_LENGTH),
]
EventId = Annotated[
    str, StringConstraints(pattern=EVENT_ID_PATTERN, max_length=EVENT_ID_MAX_LENGTH)
]
