"""The response-head cap (64 KiB) counts every byte of the head, however the reads fall:
a head over the cap is ``too_large`` also when one read brings all of it, and a head that
fits is read whole also when its last bytes share a read with the body."""

from __future__ import annotations

import asyncio

import pytest

from dispatcher.http.connection import MAX_HEAD, Connection, Response, ResponseTooLarge


class _Transport(asyncio.Transport):
    """Just enough of a transport for one exchange: writes kept, abort recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default


def _head(size: int, status: bytes = b"200 OK") -> bytes:
    """A response head of exactly ``size`` bytes of legal header lines (under 128 lines)."""
    start = b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n"
    lines, room = [], size - len(start) - 2  # the blank line that ends the head
    while room > 0:
        take = min(room, 4000)
        if room - take and room - take < 10:  # leave enough for one more legal line
            take -= 10
        name = b"X-%04d: " % len(lines)
        lines.append(name + b"v" * (take - len(name) - 2) + b"\r\n")
        room -= take
    head = start + b"".join(lines) + b"\r\n"
    assert len(head) == size
    return head


async def _exchange(*reads: bytes) -> asyncio.Future[Response]:
    conn = Connection(lambda _: None)
    conn.connection_made(_Transport())
    future = conn.exchange(b"GET / HTTP/1.1\r\n\r\n", 100)
    for data in reads:
        conn.data_received(data)
    await asyncio.sleep(0)
    return future


@pytest.mark.parametrize("size", [70 * 1024, MAX_HEAD + 1])
async def test_a_head_over_the_cap_in_one_read_is_too_large(size: int) -> None:
    future = await _exchange(_head(size) + b"ok")
    with pytest.raises(ResponseTooLarge):
        future.result()


async def test_a_head_over_the_cap_split_across_reads_is_too_large() -> None:
    data = _head(70 * 1024) + b"ok"
    future = await _exchange(data[:30000], data[30000:])
    with pytest.raises(ResponseTooLarge):
        future.result()


@pytest.mark.parametrize("split", [None, 100, MAX_HEAD - 1])
async def test_a_head_of_exactly_the_cap_is_read_whole(split: int | None) -> None:
    data = _head(MAX_HEAD) + b"ok"
    reads = (data,) if split is None else (data[:split], data[split:])
    response = (await _exchange(*reads)).result()
    assert (response.status, response.body) == (200, b"ok")


async def test_interim_heads_count_toward_the_cap() -> None:
    interim = _head(40 * 1024, b"103 Early Hints").replace(b"Content-Length: 2\r\n", b"X: y\r\n")
    future = await _exchange(interim + _head(40 * 1024) + b"ok")
    with pytest.raises(ResponseTooLarge):
        future.result()
