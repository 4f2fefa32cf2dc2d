"""Driver errors become StoreUnavailable at the adapter, including redis-py's closed-writer
race (a write meeting a writer a concurrent disconnect took away), and nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError

from app.errors import StoreUnavailable
from app.store.errors import lost_writer, wrapped


async def test_a_write_on_a_writer_taken_away_is_a_lost_connection() -> None:
    conn = Connection(host="127.0.0.1", port=6379)  # never connected: its writer is None

    @wrapped
    async def put() -> None:
        await conn._send_packed_command([b"*1\r\n$4\r\nPING\r\n"])

    # redis-py before 8.2 fails it as AttributeError from its write path, 8.2 as a
    # ConnectionError: the store's callers see StoreUnavailable either way
    with pytest.raises(StoreUnavailable) as caught:
        await put()
    assert isinstance(caught.value.__cause__, AttributeError | ConnectionError)


# redis-py's write path as it failed before 8.2: an AttributeError from inside a function
# of that name in a file of the redis package
_OLD_WRITE_PATH = """
async def _send_packed_command(writer):
    writer.writelines([b"PING"])
"""


async def test_an_attribute_error_from_redis_pys_write_path_is_a_lost_connection() -> None:
    scope: dict[str, Any] = {}
    exec(compile(_OLD_WRITE_PATH, "/site-packages/redis/asyncio/connection.py", "exec"), scope)

    @wrapped
    async def put() -> None:
        await scope["_send_packed_command"](None)

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
