"""Driver errors become StoreUnavailable at the adapter, including redis-py's closed-writer
race (a write meeting a writer a concurrent disconnect took away), and nothing else."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection

from app.errors import StoreUnavailable
from app.store.errors import lost_writer, wrapped


async def test_a_write_on_a_writer_taken_away_is_a_lost_connection() -> None:
    conn = Connection(host="127.0.0.1", port=6379)  # never connected: its writer is None

    @wrapped
    async def put() -> None:
        await conn._send_packed_command([b"*1\r\n$4\r\nPING\r\n"])

    with pytest.raises(StoreUnavailable, match="connection lost") as caught:
        await put()
    assert isinstance(caught.value.__cause__, AttributeError)


async def test_an_attribute_error_of_our_own_still_propagates() -> None:
    @wrapped
    async def ours() -> None:
        None.missing  # type: ignore[attr-defined]  # noqa: B018

    with pytest.raises(AttributeError):
        await ours()


def test_only_attribute_and_type_errors_from_the_write_path_count() -> None:
    assert not lost_writer(ValueError("x"))
    assert not lost_writer(AttributeError("raised outside any traceback"))
