"""The test receiver itself: recording, scripting, and running in a thread for sync tests."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.receiver import Receiver, ReceiverThread, Reply


def test_thread_receiver_records_requests_for_sync_tests() -> None:
    with ReceiverThread() as receiver, httpx.Client() as http:
        response = http.post(
            receiver.url("/hook?x=1"), content=b"payload", headers={"X-Fire": "f_1"}
        )
        (seen,) = receiver.wait_for_sync(1, path="/hook")

    assert (response.status_code, response.text) == (200, "ok")
    assert (seen.method, seen.path, seen.query, seen.body) == ("POST", "/hook", "x=1", b"payload")
    assert seen.headers["x-fire"] == "f_1"
    assert ("X-Fire", "f_1") in seen.raw_headers
    assert abs(seen.arrived_at - time.time()) < 5


def test_thread_receiver_follows_a_script_then_falls_back() -> None:
    with ReceiverThread() as receiver, httpx.Client() as http:
        receiver.script("/hook", Reply(500, b"boom"), Reply(503, headers={"Retry-After": "2"}))
        responses = [http.get(receiver.url("/hook")) for _ in range(3)]

    assert [r.status_code for r in responses] == [500, 503, 200]
    assert responses[0].text == "boom" and responses[1].headers["retry-after"] == "2"


def test_chunked_request_bodies_are_reassembled() -> None:
    with ReceiverThread() as receiver, httpx.Client() as http:
        http.post(receiver.url("/chunked"), content=iter([b"ab", b"cd", b"ef"]))
        (seen,) = receiver.wait_for_sync(1)
    assert seen.headers["transfer-encoding"] == "chunked" and seen.body == b"abcdef"


async def test_wait_for_gives_up_after_its_bound() -> None:
    async with Receiver() as receiver:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="0 of 1"):
            await receiver.wait_for(1, within=0.1)
        assert time.monotonic() - started < 1


async def test_scripted_delay_and_clear() -> None:
    async with Receiver() as receiver, httpx.AsyncClient() as http:
        receiver.script("/slow", Reply(201, delay=0.2))
        started = time.monotonic()
        assert (await http.get(receiver.url("/slow"))).status_code == 201
        assert time.monotonic() - started >= 0.2
        receiver.clear()
        assert receiver.requests == []


async def test_stopping_releases_hanging_connections() -> None:
    async with Receiver() as receiver, httpx.AsyncClient(timeout=5) as http:
        receiver.script("/x", "/hang")
        pending = http.get(receiver.url("/x"))
        task = asyncio.create_task(pending)
        await receiver.wait_for(1)
        await receiver.stop()
        with pytest.raises(httpx.RemoteProtocolError):
            await task
