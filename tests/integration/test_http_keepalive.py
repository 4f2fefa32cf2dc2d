"""WebhookClient's own HTTP/1.1: keep-alive reuse, when a connection is dropped, that no
request is written twice, the pool cap, and response framings (chunked, read-to-close, 1xx)."""

from __future__ import annotations

import asyncio

import pytest

from dispatcher.http.client import WebhookClient
from dispatcher.http.pool import Origin, Pool
from tests.integration.test_http_client import StubResolver, send_private
from tests.receiver import Receiver, ReceiverThread, Reply


# -- reuse ------------------------------------------------------------------------------
async def test_sequential_deliveries_share_one_connection(
    client: WebhookClient, receiver: Receiver
) -> None:
    results = [await send_private(client, receiver.url(f"/n/{i}")) for i in range(20)]

    assert [r.status_code for r in results] == [200] * 20
    assert receiver.connections == 1
    assert {r.connection for r in receiver.requests} == {1}


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, b"ok", {"Connection": "close"}),
        Reply(200, b"ok", {"Connection": "Close"}),
    ],
)
async def test_connection_close_in_the_response_is_honoured(
    client: WebhookClient, receiver: Receiver, reply: Reply
) -> None:
    receiver.script("/bye", reply)
    assert (await send_private(client, receiver.url("/bye"))).status_code == 200
    assert (await send_private(client, receiver.url("/ok"))).status_code == 200
    assert [r.connection for r in receiver.requests] == [1, 2]


async def test_an_http_1_0_answer_without_keep_alive_is_not_reused(
    client: WebhookClient, receiver: Receiver
) -> None:
    port, seen = await _raw_server(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
    try:
        for _ in range(3):
            result = await send_private(client, f"http://127.0.0.1:{port.port}/")
            assert (result.status_code, result.excerpt) == (200, "ok")
    finally:
        port.close()
    assert len(seen) == 3  # three connections, one request each


async def test_a_truncated_body_drops_its_connection(receiver: Receiver) -> None:
    client = WebhookClient(max_response_bytes=4096, excerpt_bytes=100)
    try:
        huge = await send_private(client, receiver.url("/huge"), timeout=5)
        ok = await send_private(client, receiver.url("/ok"))
    finally:
        await client.aclose()
    assert (huge.status_code, huge.truncated, ok.status_code) == (200, True, 200)
    assert [r.connection for r in receiver.requests] == [1, 2]


async def test_an_error_drops_its_connection(client: WebhookClient, receiver: Receiver) -> None:
    receiver.script("/slow", "/slow/1")
    assert (await send_private(client, receiver.url("/ok"))).status_code == 200
    assert (await send_private(client, receiver.url("/slow"), timeout=0.2)).error == "timeout"
    assert (await send_private(client, receiver.url("/ok"))).status_code == 200
    assert [r.connection for r in receiver.requests] == [1, 1, 2]


# -- never twice ------------------------------------------------------------------------
async def test_an_idle_connection_the_server_closed_is_replaced_before_sending() -> None:
    client = WebhookClient()
    thread = ReceiverThread()
    try:
        with thread as receiver:
            # given a pooled connection the server then closes (its keep-alive timeout),
            # from its own thread while this loop is blocked: the close is unseen here
            assert (await send_private(client, receiver.url("/first"))).status_code == 200
            closed = thread.run(receiver.close_idle())
            # when the next delivery goes out at once
            result = await send_private(client, receiver.url("/second"))
            seen = receiver.wait_for_sync(2)
    finally:
        await client.aclose()
    # then it went on a fresh connection and arrived exactly once
    assert closed == 1
    assert result.status_code == 200
    assert [(r.path, r.connection) for r in seen] == [("/first", 1), ("/second", 2)]


@pytest.mark.parametrize("warm", [False, True], ids=["fresh connection", "reused connection"])
async def test_a_server_closing_after_reading_the_request_is_not_sent_it_again(
    client: WebhookClient, receiver: Receiver, warm: bool
) -> None:
    if warm:
        assert (await send_private(client, receiver.url("/ok"))).status_code == 200
    result = await send_private(client, receiver.url("/close"))

    assert (result.status_code, result.error) == (None, "connect")
    await asyncio.sleep(0.1)
    assert len(receiver.requests_to("/close")) == 1


@pytest.mark.parametrize("warm", [False, True], ids=["fresh connection", "reused connection"])
async def test_a_reset_after_reading_the_request_is_not_sent_again(
    client: WebhookClient, receiver: Receiver, warm: bool
) -> None:
    if warm:
        assert (await send_private(client, receiver.url("/ok"))).status_code == 200
    result = await send_private(client, receiver.url("/reset"))

    assert (result.status_code, result.error) == (None, "connect")
    await asyncio.sleep(0.1)
    assert len(receiver.requests_to("/reset")) == 1


# -- the cap ----------------------------------------------------------------------------
async def test_the_pool_cap_holds_under_500_concurrent_sends(receiver: Receiver) -> None:
    client = WebhookClient(max_connections=8)
    try:
        results = await asyncio.gather(
            *(send_private(client, receiver.url(f"/n/{i}"), timeout=10) for i in range(500))
        )
    finally:
        await client.aclose()
    assert [r.status_code for r in results] == [200] * 500
    assert len(receiver.requests) == 500
    assert receiver.peak <= 8
    assert receiver.connections <= 8  # reused, not churned


async def test_at_the_cap_an_idle_connection_to_another_origin_makes_room() -> None:
    client = WebhookClient(max_connections=1)
    try:
        async with Receiver() as first, Receiver() as second:
            a = await send_private(client, first.url("/ok"))
            b = await send_private(client, second.url("/ok"), timeout=2)
            c = await send_private(client, first.url("/ok"), timeout=2)
    finally:
        await client.aclose()
    assert [a.status_code, b.status_code, c.status_code] == [200, 200, 200]
    assert (first.connections, second.connections) == (2, 1)


# -- response framings ------------------------------------------------------------------
async def test_a_chunked_body_is_read_whole_and_the_connection_kept(
    client: WebhookClient, receiver: Receiver
) -> None:
    result = await send_private(client, receiver.url("/chunked/3"))
    again = await send_private(client, receiver.url("/ok"))

    assert (result.status_code, result.truncated, result.excerpt) == (200, False, "x" * 1024)
    assert again.status_code == 200
    assert receiver.connections == 1


async def test_a_chunked_body_is_cut_at_the_cap(receiver: Receiver) -> None:
    client = WebhookClient(max_response_bytes=2500, excerpt_bytes=10)
    try:
        result = await send_private(client, receiver.url("/chunked/100000"), timeout=5)
        exact = await send_private(client, receiver.url("/chunked/2"), timeout=5)
    finally:
        await client.aclose()
    assert (result.status_code, result.error, result.truncated) == (200, None, True)
    assert result.excerpt == "x" * 10 and result.duration_ms < 2000
    assert (exact.status_code, exact.truncated) == (200, False)  # 2,048 bytes fit


async def test_a_body_without_framing_is_read_to_close(
    client: WebhookClient, receiver: Receiver
) -> None:
    result = await send_private(client, receiver.url("/unframed"))
    assert (result.status_code, result.error, result.excerpt) == (200, None, "ok")
    assert (await send_private(client, receiver.url("/ok"))).status_code == 200
    assert receiver.connections == 2


async def test_an_interim_100_continue_is_skipped(
    client: WebhookClient, receiver: Receiver
) -> None:
    result = await send_private(client, receiver.url("/continue"))
    assert (result.status_code, result.error, result.excerpt) == (200, None, "ok")


@pytest.mark.parametrize(
    ("size", "status", "error"), [(8000, 200, None), (8200, None, "too_large")]
)
async def test_a_header_line_over_8190_bytes_is_too_large(
    client: WebhookClient, receiver: Receiver, size: int, status: int | None, error: str | None
) -> None:
    receiver.script("/h", Reply(200, b"ok", {"X-Big": "v" * size}))
    result = await send_private(client, receiver.url("/h"))
    assert (result.status_code, result.error) == (status, error)


async def test_too_many_header_lines_are_too_large(
    client: WebhookClient, receiver: Receiver
) -> None:
    receiver.script("/h", Reply(200, b"ok", {f"X-{i}": "v" for i in range(200)}))
    assert (await send_private(client, receiver.url("/h"))).error == "too_large"


async def test_a_truncated_content_length_body_is_a_connect_error(
    client: WebhookClient,
) -> None:
    server, _ = await _raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    try:
        result = await send_private(client, f"http://127.0.0.1:{server.port}/")
    finally:
        server.close()
    assert (result.status_code, result.error) == (None, "connect")


# -- requests ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"X-A": "a\r\nX-B: b"},
        {"X-A": "a\nX-B: b"},
        {"X-A": "a\x00"},
        {"X-A\r\nX-B": "b"},
        {"X A": "b"},
        {"X-A:": "b"},
        {"": "b"},
    ],
)
async def test_an_unsendable_header_is_an_invalid_request_and_sends_nothing(
    client: WebhookClient, receiver: Receiver, headers: dict[str, str]
) -> None:
    result = await send_private(client, receiver.url("/ok"), headers=headers)
    assert (result.status_code, result.error) == (None, "invalid_request")
    assert receiver.connections == 0 and receiver.requests == []


async def test_methods_and_bodies_are_framed_by_content_length(
    client: WebhookClient, receiver: Receiver
) -> None:
    for method, body in [("POST", b"abc"), ("PUT", b""), ("GET", b""), ("DELETE", b"x")]:
        result = await send_private(client, receiver.url("/m"), method=method, body=body)
        assert result.status_code == 200
    seen = [(r.method, r.body, r.headers["content-length"]) for r in receiver.requests]
    assert seen == [
        ("POST", b"abc", "3"),
        ("PUT", b"", "0"),
        ("GET", b"", "0"),
        ("DELETE", b"x", "1"),
    ]
    assert receiver.connections == 1


# -- helpers ----------------------------------------------------------------------------
class _RawServer:
    def __init__(self, server: asyncio.Server) -> None:
        self.server = server
        self.port: int = server.sockets[0].getsockname()[1]

    def close(self) -> None:
        self.server.close()


async def _raw_server(answer: bytes) -> tuple[_RawServer, list[bytes]]:
    """A server that reads one request head, writes ``answer`` and closes."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(answer)
        await writer.drain()
        writer.close()

    return _RawServer(await asyncio.start_server(handle, "127.0.0.1", 0)), seen


async def test_an_idle_connection_past_the_keepalive_is_not_reused(receiver: Receiver) -> None:
    pool = Pool(limit=2, resolver=StubResolver(["127.0.0.1"]), keepalive_seconds=0.1)
    origin = Origin("http", "127.0.0.1", receiver.port)
    try:
        for _ in range(2):
            conn = await pool.acquire(origin)
            response = await conn.exchange(_BARE_REQUEST, 100)
            pool.release(conn)
            assert (response.status, response.body) == (200, b"ok")
            await asyncio.sleep(0.3)  # the sweep closes it meanwhile
            assert conn.lost
    finally:
        await pool.aclose()
    assert receiver.connections == 2


_BARE_REQUEST = b"POST /ok HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
