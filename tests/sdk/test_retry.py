"""Retries: the policy from tables, then the mechanics of both clients against a loopback
fake API that fails N times (tests/receiver.py): what is retried, how often, how long it
waits, and that a retried POST keeps its Idempotency-Key."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import cronhook
from cronhook import Retry
from cronhook._protocol import Call, nothing
from tests.receiver import Receiver, Reply
from tests.sdk.both import Both, make
from tests.sdk.test_protocol import FIRE

SCHEDULE = {
    "id": "sch_1",
    "name": "n",
    "cron": "* * * * *",
    "timezone": "UTC",
    "target": {"url": "https://example.com/"},
    "retry": {},
    "paused": False,
    "created_at": "2030-01-01T00:00:00.000Z",
    "updated_at": "2030-01-01T00:00:00.000Z",
}
JSON = {"Content-Type": "application/json"}


def ok(body: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(body).encode(), JSON)


def problem(status: int, **headers: str) -> Reply:
    body = json.dumps({"type": "t", "title": "T", "status": status, "detail": f"d{status}"})
    return Reply(status, body.encode(), {"Content-Type": "application/problem+json", **headers})


@pytest.fixture
async def fake() -> AsyncIterator[Receiver]:
    async with Receiver() as receiver:
        yield receiver


@pytest.fixture
async def client_for(mode: str) -> AsyncIterator[Any]:
    made: list[Both] = []

    def build(base_url: str, **options: Any) -> Both:
        options.setdefault("backoff", 0.01)
        options.setdefault("max_backoff", 0.05)
        api = make(mode, "tenant", base_url, "chk_test", **options)
        made.append(api)
        return api

    yield build
    for api in made:
        await api.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the policy -------------------------------------------------------------------------------


def call(method: str, key: str | None = None) -> Call[None]:
    return Call(method, "/v1/x", nothing, idempotency_key=key)


def answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers)


RESPONSES = [
    # method, keyed, status, retried
    ("GET", False, 503, True),
    ("GET", False, 500, True),
    ("GET", False, 429, True),
    ("GET", False, 404, False),
    ("GET", False, 422, False),
    ("POST", True, 503, True),
    ("POST", False, 503, False),
    ("POST", True, 429, True),
    ("POST", True, 409, False),  # a state conflict: no Retry-After
    ("PATCH", False, 503, False),
    ("PATCH", False, 429, True),  # refused before anything happened
    ("DELETE", False, 502, False),
]


@pytest.mark.parametrize(("method", "keyed", "status", "retried"), RESPONSES)
def test_which_answers_are_retried(method: str, keyed: bool, status: int, retried: bool) -> None:
    delay = Retry().after_response(call(method, "k" if keyed else None), 0, answer(status))

    assert (delay is not None) == retried


@pytest.mark.parametrize(
    ("error", "method", "retried"),
    [
        (httpx.ConnectError("refused"), "PATCH", True),  # never reached the server
        (httpx.ConnectTimeout("slow"), "DELETE", True),
        (httpx.ReadTimeout("slow"), "GET", True),
        (httpx.ReadTimeout("slow"), "PATCH", False),  # may have been applied
        (httpx.RemoteProtocolError("eof"), "DELETE", False),
        (httpx.RemoteProtocolError("eof"), "POST", True),  # POSTs carry a key
    ],
)
def test_which_transport_errors_are_retried(error: Exception, method: str, retried: bool) -> None:
    key = "k" if method == "POST" else None

    assert (Retry().after_error(call(method, key), 0, error) is not None) == retried


def test_backoff_is_full_jitter_under_a_capped_exponential() -> None:
    asked: list[tuple[float, float]] = []
    retry = Retry(backoff=0.5, max_backoff=8.0, jitter=lambda a, b: asked.append((a, b)) or b)

    delays = [retry.backoff_delay(n) for n in range(7)]

    assert asked == [(0.0, c) for c in (0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    real = Retry(backoff=0.5, max_backoff=8.0)
    assert all(0.0 <= real.backoff_delay(3) <= 4.0 for _ in range(200))


def test_retry_after_is_a_floor_and_a_long_one_is_not_waited_out() -> None:
    retry = Retry(backoff=0.01, max_retry_after=60)

    assert retry.after_response(call("GET"), 0, answer(429, **{"Retry-After": "2"})) == 2.0
    assert retry.after_response(call("GET"), 0, answer(503, **{"Retry-After": "61"})) is None
    busy = answer(409, **{"Retry-After": "1"})
    assert retry.after_response(call("POST", "k"), 0, busy) == 1.0
    assert retry.after_response(call("PATCH"), 0, busy) is None


def test_no_retry_once_max_retries_are_spent() -> None:
    retry = Retry(max_retries=2)

    assert retry.after_response(call("GET"), 1, answer(503)) is not None
    assert retry.after_response(call("GET"), 2, answer(503)) is None
    assert Retry(max_retries=0).after_error(call("GET"), 0, httpx.ConnectError("x")) is None
    with pytest.raises(ValueError):
        Retry(max_retries=-1)


# -- the mechanics, on the wire ---------------------------------------------------------------


async def test_a_get_that_fails_twice_then_succeeds_returns_the_result(
    fake: Receiver, client_for: Any
) -> None:
    fake.script("/v1/schedules/sch_1", problem(503), problem(500), ok(SCHEDULE))
    api = client_for(fake.url(""))

    schedule = await api("schedules.get", "sch_1")

    assert schedule.id == "sch_1"
    assert len(fake.requests_to("/v1/schedules/sch_1")) == 3


async def test_a_retried_post_carries_the_same_idempotency_key_every_time(
    fake: Receiver, client_for: Any
) -> None:
    fake.script("/v1/messages", problem(503), "/reset", ok(FIRE, 202))
    api = client_for(fake.url(""))

    fire = await api("messages.send", {"url": "https://example.com/hook"}, delay=5)

    assert fire.id == "fire_1"
    hits = fake.requests_to("/v1/messages")
    keys = {h.headers["idempotency-key"] for h in hits}
    assert len(hits) == 3 and len(keys) == 1
    assert {h.body for h in hits} == {hits[0].body}
    assert json.loads(hits[0].body) == {
        "target": {"url": "https://example.com/hook"},
        "delay_seconds": 5,
    }


async def test_two_posts_get_two_different_keys(fake: Receiver, client_for: Any) -> None:
    fake.script("/v1/schedules/sch_1/trigger", ok(FIRE, 202), ok(FIRE, 202))
    api = client_for(fake.url(""))

    await api("schedules.trigger", "sch_1")
    await api("schedules.trigger", "sch_1")

    keys = [h.headers["idempotency-key"] for h in fake.requests_to("/v1/schedules/sch_1/trigger")]
    assert len(set(keys)) == 2


async def test_a_patch_that_meets_a_503_is_not_repeated(fake: Receiver, client_for: Any) -> None:
    fake.script("/v1/schedules/sch_1", problem(503, **{"Retry-After": "1"}))
    api = client_for(fake.url(""))

    with pytest.raises(cronhook.ServerError) as caught:
        await api("schedules.update", "sch_1", cron="0 * * * *")

    assert caught.value.status == 503 and caught.value.retry_after == 1.0
    assert len(fake.requests_to("/v1/schedules/sch_1")) == 1


async def test_a_patch_whose_connection_is_reset_is_not_repeated(
    fake: Receiver, client_for: Any
) -> None:
    fake.script("/v1/schedules/sch_1", "/reset", ok(SCHEDULE))
    api = client_for(fake.url(""))

    with pytest.raises(cronhook.ConnectionError):
        await api("schedules.update", "sch_1", paused=True)

    assert len(fake.requests_to("/v1/schedules/sch_1")) == 1


async def test_a_429_waits_at_least_retry_after_then_succeeds(
    fake: Receiver, client_for: Any
) -> None:
    fake.script("/v1/schedules/sch_1", problem(429, **{"Retry-After": "1"}), ok(SCHEDULE))
    api = client_for(fake.url(""))

    await api("schedules.get", "sch_1")

    first, second = fake.requests_to("/v1/schedules/sch_1")
    assert second.arrived_monotonic - first.arrived_monotonic >= 0.95


async def test_a_429_asking_for_too_long_is_raised_with_retry_after(
    fake: Receiver, client_for: Any
) -> None:
    fake.script("/v1/tenant", problem(429, **{"Retry-After": "120"}))
    api = client_for(fake.url(""))

    with pytest.raises(cronhook.RateLimitError) as caught:
        await api("tenant.get")

    assert caught.value.retry_after == 120.0
    assert len(fake.requests_to("/v1/tenant")) == 1


async def test_retries_stop_after_max_retries_with_the_last_error(
    fake: Receiver, client_for: Any
) -> None:
    fake.script("/v1/fires/fire_1", problem(503), problem(502), problem(500), ok(FIRE))
    api = client_for(fake.url(""), max_retries=2)

    with pytest.raises(cronhook.ServerError) as caught:
        await api("fires.get", "fire_1")

    assert caught.value.status == 500
    assert len(fake.requests_to("/v1/fires/fire_1")) == 3


async def test_a_hanging_server_is_a_timeout_error_after_the_retries(
    fake: Receiver, client_for: Any
) -> None:
    fake.script("/v1/fires/fire_1", "/hang", "/hang")
    api = client_for(fake.url(""), timeout=0.3, max_retries=1)

    with pytest.raises(cronhook.TimeoutError):
        await api("fires.get", "fire_1")

    assert len(fake.requests_to("/v1/fires/fire_1")) == 2


async def test_a_refused_connection_is_retried_for_any_method_then_raised(
    mode: str, client_for: Any
) -> None:
    waits: list[float] = []
    retry = Retry(max_retries=3, backoff=0.01, jitter=lambda a, b: waits.append(b) or 0.0)
    api = client_for(f"http://127.0.0.1:{free_port()}", retry=retry)

    with pytest.raises(cronhook.ConnectionError) as caught:
        await api("schedules.delete", "sch_1")

    assert not isinstance(caught.value, cronhook.TimeoutError)
    assert len(waits) == 3 and "DELETE" in str(caught.value)


async def test_max_retries_zero_sends_once(fake: Receiver, client_for: Any) -> None:
    fake.script("/v1/schedules/sch_1", problem(503), ok(SCHEDULE))
    api = client_for(fake.url(""), max_retries=0)

    with pytest.raises(cronhook.ServerError):
        await api("schedules.get", "sch_1")

    assert len(fake.requests_to("/v1/schedules/sch_1")) == 1


# -- pagination and event streams over the same fake ---------------------------------------------


async def test_auto_pagination_follows_cursors_to_the_end(fake: Receiver, client_for: Any) -> None:
    pages = [
        ok({"items": [SCHEDULE | {"id": "sch_3"}, SCHEDULE | {"id": "sch_2"}], "next_cursor": "1"}),
        ok({"items": [], "next_cursor": "2"}),  # a filtered page may be empty
        ok({"items": [SCHEDULE | {"id": "sch_1"}], "next_cursor": None}),
    ]
    fake.script("/v1/schedules", *pages)
    api = client_for(fake.url(""))

    ids = [s.id for s in await api.all("schedules.list", limit=2, paused=False)]

    assert ids == ["sch_3", "sch_2", "sch_1"]
    queries = [h.query for h in fake.requests_to("/v1/schedules")]
    first = "paused=false&limit=2"
    assert queries == [first, f"{first}&cursor=1", f"{first}&cursor=2"]


async def test_a_server_repeating_a_cursor_does_not_loop_forever(
    fake: Receiver, client_for: Any
) -> None:
    page = ok({"items": [SCHEDULE], "next_cursor": "same"})
    fake.script("/v1/schedules", page, page, page)
    api = client_for(fake.url(""))

    with pytest.raises(cronhook.ResponseDecodeError, match="same cursor"):
        await api.all("schedules.list")


async def test_the_event_stream_yields_events_and_skips_keepalives(
    mode: str, fake: Receiver, client_for: Any
) -> None:
    event = {
        "type": "fire.succeeded",
        "fire_id": "fire_1",
        "schedule_id": "sch_1",
        "at": "2030-01-01T00:00:00.004Z",
        "status": "succeeded",
    }
    stream = (
        "retry: 3000\n: connected\n\n: keepalive\n\n"
        f"event: fire.succeeded\ndata: {json.dumps(event)}\n\n"
        f"event: fire.succeeded\r\ndata: {json.dumps(event | {'fire_id': 'fire_2'})}\r\n\r\n"
    )
    fake.script("/v1/events", Reply(200, stream.encode(), {"Content-Type": "text/event-stream"}))
    api = client_for(fake.url(""))

    if api.is_async:
        async with api.client.events.stream(types=["fire.succeeded"]) as events:
            got = [e async for e in events]
    else:

        def read() -> list[cronhook.Event]:
            with api.client.events.stream(types=["fire.succeeded"]) as events:
                return list(events)

        import asyncio

        got = await asyncio.to_thread(read)

    assert [e.fire_id for e in got] == ["fire_1", "fire_2"]
    [request] = fake.requests_to("/v1/events")
    assert request.headers["accept"] == "text/event-stream"
    assert request.query == "types=fire.succeeded"
