from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from event_store.database import Database
from event_store.repository import Repository


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "events.db")
    await database.open()
    yield database
    await database.close()


@pytest.fixture
def repo(db: Database) -> Repository:
    return Repository(db)
