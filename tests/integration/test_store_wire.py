"""The Wire connection under ``Scripts``: the answers redis-py gives, for every value type and
client setting; errors to their own callers; NOSCRIPT repaired; a Redis that stops answering
or dies fails every pending call and the next call connects again; cancelled callers leave
the reply stream in step. On the shared Redis (own key prefix) and on private redis-servers."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis.asyncio as aioredis
from redis.exceptions import (
    AuthenticationError,
    ConnectionError,
    DataError,
    ResponseError,
    TimeoutError,
)

from app.store import Store, open_store
from app.store.resp import Wire, params_of, wire_for
from app.store.scripts import Scripts
from tests.conftest import delete_prefix, eventually
from tests.e2e.services import RedisServer, free_ports

pytestmark = pytest.mark.external_service

ECHO = "return ARGV[1] .. ':' .. redis.call('INCR', KEYS[1])"

# Pure scripts (their answer depends on ARGV only) and the arguments they are called with.
VALUES: list[tuple[str, list[Any]]] = [
    ("return ARGV", ["plain", "é✓ unicode", "", 0, -7, 2**62, 1.5, 1e20, -0.0, 0.1]),
    ("return tonumber(ARGV[1]) * 2", [21]),
    ("return tonumber(ARGV[1]) / 4", [10]),  # a Lua float: Redis truncates it
    ("return {1, 'a', {2, false, true}, 3.7, nil, 'after nil'}", []),
    ("return redis.status_reply('FINE')", []),
    ("return {1, redis.error_reply('ERR inner')}", []),
    ("return redis.error_reply('ERR mine')", []),
    ("return redis.error_reply('NOSCRIPT fake')", []),
    ("error('boom')", []),
    ("return true", []),
    ("return false", []),
    ("return nil", []),
    ("return {}", []),
    ("return {double=3.5}", []),
    ("return {map={a=1, b={'x'}}}", []),
    ("return string.rep(ARGV[1], tonumber(ARGV[2]))", ["xyz", 400_000]),  # many reads
]


def norm(value: Any) -> Any:
    """A value with its types spelled out, exceptions as (class, message)."""
    if isinstance(value, BaseException):
        return ("raised", type(value), str(value))
    if isinstance(value, list):
        return [norm(v) for v in value]
    if isinstance(value, dict):
        return {norm(k): norm(v) for k, v in value.items()}
    return (type(value), value)


async def answers(scripts: Scripts, calls: list[tuple[Any, list[Any], list[Any]]]) -> list[Any]:
    got = await asyncio.gather(
        *(scripts.call(s, keys, args) for s, keys, args in calls), return_exceptions=True
    )
    return [norm(g) for g in got]


@contextlib.asynccontextmanager
async def private_redis(*args: str, password: str = "") -> AsyncIterator[RedisServer]:
    """A redis-server of this test's own (SIGSTOP, SIGKILL and SCRIPT FLUSH allowed)."""
    tmp = Path(tempfile.mkdtemp(prefix="cronhook-wire-"))
    [port] = free_ports(1)
    server = RedisServer(port, tmp, [*args, *(["--requirepass", password] if password else [])])
    try:
        if password:
            server.spawn()
            await eventually(lambda: answers_ping(port, password))
        else:
            await server.start()
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.send_signal(signal.SIGCONT)
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


async def answers_ping(port: int, password: str) -> bool:
    r = aioredis.Redis(port=port, password=password, socket_timeout=1)
    try:
        return bool(await r.ping())
    except (ConnectionError, OSError):
        return False
    finally:
        await r.aclose()


@contextlib.asynccontextmanager
async def scripts_on(url: str, **options: Any) -> AsyncIterator[tuple[Any, Scripts]]:
    client = aioredis.Redis.from_url(url, **options)
    scripts = Scripts(client)
    try:
        assert scripts.on_wire
        yield client, scripts
    finally:
        await scripts.aclose()
        await client.aclose()


@contextlib.asynccontextmanager
async def warm_wire(url: str) -> AsyncIterator[tuple[Wire, Callable[[str], bytes]]]:
    """A wire on ``url``, connected by one ECHO, and the packer of an ECHO command."""
    client = aioredis.Redis.from_url(url, decode_responses=True)
    wire = wire_for(client)
    assert wire is not None

    def echo(text: str) -> bytes:
        return wire.pack(("ECHO", text))

    try:
        assert await wire.execute(echo("warm"), 1) == ["warm"]
        yield wire, echo
    finally:
        await wire.aclose()
        await client.aclose()


@pytest.mark.parametrize("decode", [True, False])
@pytest.mark.parametrize("protocol", [2, 3])
async def test_the_wire_answers_what_redis_py_answers(
    redis_url: str, prefix: str, decode: bool, protocol: int
) -> None:
    # given one client, and the same script calls through the wire and through redis-py
    client = aioredis.Redis.from_url(redis_url, decode_responses=decode, protocol=protocol)
    wire, plain = Scripts(client), Scripts(client, wire=False)
    calls = [(client.register_script(src), [f"{prefix}:k"], args) for src, args in VALUES]
    if not decode:  # bytes that are not UTF-8 come back as they went
        calls.append((client.register_script("return ARGV"), [], [b"\x00\xff\xfe raw"]))
    try:
        assert wire.on_wire and not plain.on_wire
        # when both run every call, coalesced in one pipeline each
        expected = await answers(plain, calls)
        got = await answers(wire, calls)
        # then every answer is the same value of the same type, errors included
        assert got == expected
        assert got[5][1][:2] == ("raised", ResponseError)  # a nested error stays nested
        assert got[3] == norm([1, "a" if decode else b"a", [2, None, 1], 3])
    finally:
        await wire.aclose()
        await client.aclose()


@pytest.mark.parametrize("decode", [True, False])
async def test_plain_commands_answer_on_the_wire_what_a_redis_py_pipeline_answers(
    redis_url: str, prefix: str, decode: bool
) -> None:
    # given strings (one not UTF-8 when not decoding), a missing key and a hash
    client = aioredis.Redis.from_url(redis_url, decode_responses=decode)
    wire, plain = Scripts(client), Scripts(client, wire=False)
    raw = "é text" if decode else b"\x00\xff raw"
    await client.set(f"{prefix}:a", raw)
    await client.set(f"{prefix}:b", "{}")
    await client.hset(f"{prefix}:h", "f", "v")
    reads = [("GET", f"{prefix}:a"), ("GET", f"{prefix}:none"), ("GET", f"{prefix}:b")]
    try:
        assert wire.on_wire and not plain.on_wire
        # when both read them, then the replies are the same values of the same types
        expected = await plain.commands(reads)
        got = await wire.commands(reads)
        assert got == expected and [type(x) for x in got] == [type(x) for x in expected]
        assert got[0] == raw and got[1] is None
        assert await wire.commands([]) == []
        # and a reply error (a GET of a hash) is raised by both, a later read still answered
        for scripts in (plain, wire):
            with pytest.raises(ResponseError, match="WRONGTYPE"):
                await scripts.commands([("GET", f"{prefix}:a"), ("GET", f"{prefix}:h")])
            assert await scripts.commands(reads[:1]) == [raw]
    finally:
        await wire.aclose()
        await client.delete(f"{prefix}:a", f"{prefix}:b", f"{prefix}:h")
        await client.aclose()


async def test_an_argument_redis_py_refuses_is_refused_alike(redis_url: str, prefix: str) -> None:
    async with scripts_on(redis_url, decode_responses=True) as (client, scripts):
        script = client.register_script("return ARGV[1]")
        for bad in (True, None, object()):
            with pytest.raises(DataError):
                await scripts.call(script, [f"{prefix}:k"], [bad])
        assert await scripts.call(script, [f"{prefix}:k"], ["fine"]) == "fine"


async def test_the_redis_store_runs_its_scripts_on_the_wire(redis_url: str, prefix: str) -> None:
    # (so the store contract and script tests on the real Redis exercise the wire)
    store = open_store(redis_url, prefix=prefix, shards=1, retention_s=60)
    try:
        assert store.scripts.on_wire
        assert await store.fires.begin("t", "f", "inv", 1, 1000, 1) == "missing"
    finally:
        await store.aclose()


async def test_clients_the_wire_does_not_handle_keep_redis_py() -> None:
    fake = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
    tls = aioredis.Redis.from_url("rediss://127.0.0.1:6380/0")
    plain = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        assert params_of(fake) is None and not Scripts(fake).on_wire
        assert params_of(tls) is None and not Scripts(tls).on_wire
        assert not Scripts(plain, cluster=True).on_wire
        assert Scripts(plain).on_wire
        embedded = open_store("", prefix="p", shards=1, retention_s=60)
        assert not embedded.scripts.on_wire
        await embedded.aclose()
    finally:
        for c in (fake, tls, plain):
            await c.aclose()


async def test_many_concurrent_callers_each_get_their_own_answer(
    redis_url: str, prefix: str
) -> None:
    async with scripts_on(redis_url, decode_responses=True) as (client, scripts):
        script = client.register_script(ECHO)
        key = f"{prefix}:count"

        async def caller(n: int) -> list[str]:
            return [await scripts.call(script, [key], [f"c{n}.{i}"]) for i in range(25)]

        # when 200 callers make 25 calls each, in flight together on the one connection
        got = await asyncio.gather(*(caller(n) for n in range(200)))
        # then each answer is its own call's, and every call ran once
        for n, mine in enumerate(got):
            assert [a.split(":")[0] for a in mine] == [f"c{n}.{i}" for i in range(25)]
        counts = sorted(int(a.split(":")[1]) for mine in got for a in mine)
        assert counts == list(range(1, 5001))
        await delete_prefix(redis_url, prefix)


async def test_an_error_goes_to_its_own_call_among_many_batches(
    redis_url: str, prefix: str
) -> None:
    async with scripts_on(redis_url, decode_responses=True) as (client, scripts):
        script = client.register_script(
            "if ARGV[1] == 'bad' then return redis.error_reply('ERR refused') end return ARGV[1]"
        )

        async def caller(i: int) -> Any:
            for _ in range(i % 4):  # over several loop turns: several batches
                await asyncio.sleep(0)
            return await scripts.call(script, [f"{prefix}:k"], ["bad" if i % 7 == 3 else str(i)])

        got = await asyncio.gather(*(caller(i) for i in range(300)), return_exceptions=True)
        for i, g in enumerate(got):
            if i % 7 == 3:
                assert isinstance(g, ResponseError) and "refused" in str(g)
            else:
                assert g == str(i)


async def test_cancelled_callers_leave_later_answers_in_step(redis_url: str, prefix: str) -> None:
    async with scripts_on(redis_url, decode_responses=True) as (client, scripts):
        script = client.register_script(ECHO)
        key = f"{prefix}:count"
        assert (await scripts.call(script, [key], ["warm"])).startswith("warm:")

        async def caller(i: int) -> str:
            for _ in range(i % 5):  # over several loop turns: several batches
                await asyncio.sleep(0)
            return str(await scripts.call(script, [key], [f"c{i}"]))

        # given 200 callers, every third of them cancelled once its batch is on the wire
        tasks = [asyncio.ensure_future(caller(i)) for i in range(200)]
        for _ in range(6):
            await asyncio.sleep(0)
        for t in tasks[::3]:
            t.cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        # then the others, and every later call, get their own answers
        for i, d in enumerate(done):
            if not isinstance(d, asyncio.CancelledError):
                assert d.split(":")[0] == f"c{i}"
        assert any(isinstance(d, asyncio.CancelledError) for d in done)
        later = await asyncio.gather(*(scripts.call(script, [key], [f"l{i}"]) for i in range(50)))
        assert [a.split(":")[0] for a in later] == [f"l{i}" for i in range(50)]
        await delete_prefix(redis_url, prefix)


async def test_a_cancelled_batch_on_the_wire_is_read_and_dropped(redis_url: str) -> None:
    async with warm_wire(redis_url) as (wire, echo):
        # given batches written, every other one's caller cancelled before its answer
        tasks = [asyncio.ensure_future(wire.execute(echo(f"b{i}") * 3, 3)) for i in range(40)]
        await asyncio.sleep(0)
        for t in tasks[::2]:
            t.cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        # then the rest got their own three answers, and so does the next batch
        for i, d in enumerate(done):
            assert isinstance(d, asyncio.CancelledError) if i % 2 == 0 else d == [f"b{i}"] * 3
        assert await wire.execute(echo("next"), 1) == ["next"]


async def test_batches_of_one_loop_turn_go_out_in_one_write(redis_url: str) -> None:
    async with warm_wire(redis_url) as (wire, echo):
        proto = wire._proto
        assert proto is not None and proto._transport is not None
        transport = proto._transport
        writes: list[bytes] = []
        real_write = transport.write

        def counting_write(data: bytes) -> None:
            writes.append(bytes(data))
            real_write(data)

        transport.write = counting_write  # type: ignore[method-assign]

        async def later(i: int) -> list[Any]:
            await asyncio.sleep(0)  # queued in the next turn
            return await wire.execute(echo(f"l{i}"), 1)

        # when 30 batches are queued in one turn and 5 more in the next
        got = await asyncio.gather(
            *(wire.execute(echo(f"b{i}") * 2, 2) for i in range(30)),
            *(later(i) for i in range(5)),
        )
        # then each gets its own answers, from two writes: one per turn, in order
        assert got[:30] == [[f"b{i}"] * 2 for i in range(30)]
        assert got[30:] == [[f"l{i}"] for i in range(5)]
        assert writes == [
            b"".join(echo(f"b{i}") * 2 for i in range(30)),
            b"".join(echo(f"l{i}") for i in range(5)),
        ]


async def test_batches_queued_when_the_connection_fails_are_failed_and_not_written(
    redis_url: str,
) -> None:
    async with warm_wire(redis_url) as (wire, echo):
        proto = wire._proto
        assert proto is not None and proto._transport is not None
        writes: list[bytes] = []
        proto._transport.write = writes.append  # type: ignore[method-assign]
        # given three batches queued, then the connection failing in the same turn
        pending = [asyncio.ensure_future(wire.execute(echo(f"x{i}"), 1)) for i in range(3)]
        await asyncio.sleep(0)  # the callers queue their batches
        proto.fail(ConnectionError("gone"))
        done = await asyncio.gather(*pending, return_exceptions=True)
        # then each caller gets the failure, nothing reaches the socket, the next call reconnects
        assert all(isinstance(d, ConnectionError) for d in done)
        assert writes == []
        assert await wire.execute(echo("again"), 1) == ["again"]


async def test_scripts_redis_forgot_are_loaded_and_run_once() -> None:
    async with (
        private_redis() as server,
        scripts_on(server.url, decode_responses=True) as (client, scripts),
    ):
        one = client.register_script(ECHO)
        two = client.register_script(f"-- two\n{ECHO}")
        broken = client.register_script("return +")
        assert await scripts.call(one, ["a"], ["x"]) == "x:1"
        # given a Redis that forgot every script
        await client.script_flush()
        # when calls of two scripts (and of one that does not compile) go in one batch
        got = await asyncio.gather(
            *(scripts.call(one, ["a"], ["x"]) for _ in range(3)),
            *(scripts.call(two, ["b"], ["y"]) for _ in range(2)),
            scripts.call(broken, [], []),
            return_exceptions=True,
        )
        # then each runnable call ran once, and the broken one has its compile error
        assert sorted(got[:3]) == ["x:2", "x:3", "x:4"]  # type: ignore[type-var]
        assert sorted(got[3:5]) == ["y:1", "y:2"]  # type: ignore[type-var]
        assert isinstance(got[5], ResponseError) and "NOSCRIPT" not in str(got[5])
        assert await scripts.many([(two, ["b"], ["y"])]) == ["y:3"]


async def test_a_redis_that_stops_answering_times_out_every_pending_call() -> None:
    async with (
        private_redis() as server,
        scripts_on(server.url, decode_responses=True, socket_timeout=0.5) as (client, scripts),
    ):
        script = client.register_script(ECHO)
        assert await scripts.call(script, ["k"], ["warm"]) == "warm:1"
        assert server.proc is not None
        server.proc.send_signal(signal.SIGSTOP)

        async def caller(i: int) -> str:
            for _ in range(i % 3):  # over several loop turns: several batches
                await asyncio.sleep(0)
            return str(await scripts.call(script, ["k"], [f"c{i}"]))

        # when calls are pending on a Redis that stopped answering
        started = asyncio.get_running_loop().time()
        got = await asyncio.gather(*(caller(i) for i in range(30)), return_exceptions=True)
        # then every one of them times out, after about the socket timeout
        assert all(isinstance(g, TimeoutError) for g in got), got
        assert asyncio.get_running_loop().time() - started < 3
        # and once Redis answers again, the next call connects again and works
        server.proc.send_signal(signal.SIGCONT)
        assert (await scripts.call(script, ["k"], ["after"])).startswith("after:")


async def test_a_redis_that_dies_fails_every_pending_call_and_a_restart_is_used() -> None:
    async with (
        private_redis() as server,
        scripts_on(server.url, decode_responses=True, socket_timeout=5) as (client, scripts),
    ):
        script = client.register_script(ECHO)
        assert await scripts.call(script, ["k"], ["warm"]) == "warm:1"
        assert server.proc is not None
        server.proc.send_signal(signal.SIGSTOP)  # hold the calls pending, then kill it
        pending = [asyncio.ensure_future(scripts.call(script, ["k"], [f"c{i}"])) for i in range(20)]
        await asyncio.sleep(0.1)
        server.kill()
        got = await asyncio.gather(*pending, return_exceptions=True)
        # then every pending call failed with a connection error, not a timeout
        assert all(type(g) is ConnectionError for g in got), got
        # and a call while it is down fails to connect
        with pytest.raises(ConnectionError):
            await scripts.call(script, ["k"], ["down"])
        # and after a restart (an empty Redis: the script is loaded again) calls work
        await server.start()
        assert await scripts.call(script, ["k"], ["back"]) == "back:1"


@pytest.mark.parametrize("protocol", [2, 3])
async def test_password_and_database_are_used_on_connect(protocol: int) -> None:
    async with private_redis(password="s3cret") as server:
        url = f"redis://:s3cret@127.0.0.1:{server.port}/3"
        async with scripts_on(url, decode_responses=True, protocol=protocol) as (client, scripts):
            script = client.register_script(ECHO)
            assert await scripts.call(script, ["k"], ["x"]) == "x:1"
            assert await client.get("k") == "1"  # database 3, as the client sees it
            db0 = aioredis.Redis(port=server.port, password="s3cret", db=0)
            assert await db0.get("k") is None
            await db0.aclose()
        bad = f"redis://:wrong@127.0.0.1:{server.port}/0"
        async with scripts_on(bad, protocol=protocol) as (client, scripts):
            with pytest.raises(AuthenticationError):
                await scripts.call(client.register_script(ECHO), ["k"], ["x"])


async def test_a_unix_socket_is_used_too() -> None:
    sock = Path(tempfile.mkdtemp(prefix="cronhook-sock-")) / "redis.sock"
    try:
        async with (
            private_redis("--unixsocket", str(sock), "--unixsocketperm", "700"),
            scripts_on(f"unix://{sock}", decode_responses=True) as (client, scripts),
        ):
            assert scripts._wire is not None and scripts._wire.params.path == str(sock)
            assert await scripts.call(client.register_script(ECHO), ["k"], ["u"]) == "u:1"
    finally:
        shutil.rmtree(sock.parent, ignore_errors=True)


async def test_a_store_closes_its_wire(redis_url: str, prefix: str) -> None:
    store: Store = open_store(redis_url, prefix=prefix, shards=1, retention_s=60)
    await store.fires.begin("t", "f", "inv", 1, 1000, 1)
    wire = store.scripts._wire
    assert wire is not None and wire._proto is not None
    proto = wire._proto
    await store.aclose()
    assert proto.error is not None and wire._proto is None
