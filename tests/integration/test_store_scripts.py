"""Script calls: coalesced calls of one loop turn answer each caller with its own result or
error; a script Redis does not know is loaded and run once; on the embedded store and on
the real Redis."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from redis.exceptions import ResponseError

from app.store import Store

ECHO = "return ARGV[1] .. ':' .. redis.call('INCR', KEYS[1])"


async def test_coalesced_calls_each_get_their_own_answer(store: Store, prefix: str) -> None:
    # given a script that counts its runs on one key and echoes its argument
    script = store.client.register_script(ECHO)
    key = f"{prefix}:count"
    # when 50 callers call it in the same loop turn
    answers = await asyncio.gather(
        *(store.scripts.call(script, [key], [f"c{i}"]) for i in range(50))
    )
    # then each got its own answer, and the script ran exactly once per call
    assert sorted(a.split(":")[0] for a in answers) == sorted(f"c{i}" for i in range(50))
    assert sorted(int(a.split(":")[1]) for a in answers) == list(range(1, 51))
    assert int(await store.client.get(key)) == 50


async def test_an_error_goes_to_its_own_caller_only(store: Store, prefix: str) -> None:
    # given a script that fails on the argument 'bad'
    script = store.client.register_script(
        "if ARGV[1] == 'bad' then return redis.error_reply('refused') end return ARGV[1]"
    )
    # when three callers call it in one turn, the middle one with 'bad'
    results = await asyncio.gather(
        store.scripts.call(script, [f"{prefix}:k"], ["a"]),
        store.scripts.call(script, [f"{prefix}:k"], ["bad"]),
        store.scripts.call(script, [f"{prefix}:k"], ["c"]),
        return_exceptions=True,
    )
    # then only the middle one fails, with the script's error
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], ResponseError) and "refused" in str(results[1])


@pytest.mark.parametrize("how", ["call", "many"])
async def test_a_script_redis_does_not_know_is_loaded_and_runs_once(
    store: Store, prefix: str, how: str
) -> None:
    # given a script never loaded (its text is unique to this test)
    script = store.client.register_script(f"-- {secrets.token_hex(8)}\n{ECHO}")
    key = f"{prefix}:count"
    # when it is called through the pipelined paths
    if how == "call":
        answers = list(
            await asyncio.gather(*(store.scripts.call(script, [key], ["x"]) for _ in range(3)))
        )
    else:
        answers = await store.scripts.many([(script, [key], ["x"])] * 3)
    # then every call ran, once
    assert sorted(answers) == ["x:1", "x:2", "x:3"]
    assert int(await store.client.get(key)) == 3


async def test_a_cancelled_caller_does_not_disturb_the_others(store: Store, prefix: str) -> None:
    script = store.client.register_script(ECHO)
    key = f"{prefix}:count"
    # given two calls queued in one turn, the first of which is cancelled before the send
    first = asyncio.ensure_future(store.scripts.call(script, [key], ["a"]))
    second = asyncio.ensure_future(store.scripts.call(script, [key], ["b"]))
    await asyncio.sleep(0)
    first.cancel()
    # then the other still gets its answer
    assert (await second).startswith("b:")
    assert first.cancelled()


async def test_calls_beyond_the_pipelines_in_flight_wait_and_all_answer(
    store: Store, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given room for one pipeline in flight only
    monkeypatch.setattr("app.store.scripts.MAX_PIPELINES", 1)
    script = store.client.register_script(ECHO)
    key = f"{prefix}:count"

    async def caller(i: int) -> str:
        for _ in range(i % 3):  # callers arriving over several loop turns
            await asyncio.sleep(0)
        return str(await store.scripts.call(script, [key], [f"c{i}"]))

    # when 60 callers call over a few turns
    answers = await asyncio.gather(*(caller(i) for i in range(60)))
    # then every one is answered, once
    assert sorted(a.split(":")[0] for a in answers) == sorted(f"c{i}" for i in range(60))
    assert int(await store.client.get(key)) == 60
