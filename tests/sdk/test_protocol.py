"""The pure layer both clients share: every operation's request description, response
parsing into typed models, the status -> error mapping, Retry-After, the JSON codec and the
SSE decoder. No network."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

import cronhook
from cronhook import _protocol as p
from cronhook._codec import DecodeFailure, decode, encode, rfc3339
from cronhook._sse import ServerSentEvent, SSEDecoder, to_event
from cronhook.resources import account, admin, fires, messages, schedules, system

FIRE = {
    "id": "fire_1",
    "schedule_id": None,
    "kind": "message",
    "scheduled_at": "2030-01-01T00:00:00.000Z",
    "status": "succeeded",
    "created_at": "2030-01-01T00:00:00.000Z",
    "updated_at": "2030-01-01T00:00:01.000Z",
    "next_attempt_at": None,
    "attempt_count": 1,
    "attempts": [
        {
            "number": 1,
            "started_at": "2030-01-01T00:00:00.010Z",
            "duration_ms": 12,
            "status_code": 200,
            "error": None,
            "response_excerpt": "ok",
            "outcome": "success",
            "replay": False,
        }
    ],
}


def response(
    status: int,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    method: str = "GET",
) -> httpx.Response:
    content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    request = httpx.Request(method, "http://api.test/v1/x")
    return httpx.Response(status, content=content, headers=headers or {}, request=request)


# -- request descriptions -----------------------------------------------------------------


def is_uuid4(value: str | None) -> bool:
    return value is not None and uuid.UUID(value).version == 4


# (builder, args, kwargs, method, path, params, body)
CALLS: list[tuple[Any, tuple[Any, ...], dict[str, Any], str, str, dict[str, str], Any]] = [
    (schedules._get, ("sch_1",), {}, "GET", "/v1/schedules/sch_1", {}, None),
    (schedules._delete, ("sch_1",), {}, "DELETE", "/v1/schedules/sch_1", {}, None),
    (schedules._pause, ("sch_1",), {}, "POST", "/v1/schedules/sch_1/pause", {}, None),
    (schedules._resume, ("sch_1",), {}, "POST", "/v1/schedules/sch_1/resume", {}, None),
    (schedules._trigger, ("sch_1",), {}, "POST", "/v1/schedules/sch_1/trigger", {}, None),
    (
        schedules._preview,
        ("sch_1",),
        {"count": 3, "after": datetime(2030, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))},
        "GET",
        "/v1/schedules/sch_1/preview",
        {"count": "3", "after": "2030-01-01T00:00:00.000Z"},
        None,
    ),
    (fires._get, ("fire_1",), {}, "GET", "/v1/fires/fire_1", {}, None),
    (fires._replay, ("fire_1",), {}, "POST", "/v1/fires/fire_1/replay", {}, None),
    (account._whoami, (), {}, "GET", "/v1/tenant", {}, None),
    (
        account._rotate,
        (),
        {"overlap": timedelta(hours=1)},
        "POST",
        "/v1/signing-secret/rotate",
        {},
        {"overlap_seconds": 3600},
    ),
    (account._rotate, (), {}, "POST", "/v1/signing-secret/rotate", {}, {}),
    (account._forecast, (), {"hours": 2}, "GET", "/v1/forecast", {"hours": "2"}, None),
    (
        account._events,
        (),
        {"types": ["fire.succeeded", "fire.failed"], "schedule_id": "sch_1"},
        "GET",
        "/v1/events",
        {"types": "fire.succeeded,fire.failed", "schedule_id": "sch_1"},
        None,
    ),
    (admin._get, ("ten_1",), {}, "GET", "/v1/tenants/ten_1", {}, None),
    (admin._delete, ("ten_1",), {}, "DELETE", "/v1/tenants/ten_1", {}, None),
    (admin._create_key, ("ten_1",), {}, "POST", "/v1/tenants/ten_1/api-keys", {}, {}),
    (admin._list_keys, ("ten_1",), {}, "GET", "/v1/tenants/ten_1/api-keys", {}, None),
    (
        admin._revoke_key,
        ("ten_1", "key_2"),
        {},
        "DELETE",
        "/v1/tenants/ten_1/api-keys/key_2",
        {},
        None,
    ),
    (admin._forecast, (), {}, "GET", "/v1/admin/forecast", {}, None),
    (system._health, (), {}, "GET", "/healthz", {}, None),
    (system._ready, (), {}, "GET", "/readyz", {}, None),
    (system._metrics, (), {}, "GET", "/metrics", {}, None),
    (system._openapi, (), {}, "GET", "/openapi.yaml", {}, None),
]


@pytest.mark.parametrize(
    ("build", "args", "kwargs", "method", "path", "params", "body"),
    CALLS,
    ids=[f"{c[3]} {c[4]}" for c in CALLS],
)
def test_each_operation_describes_its_request(
    build: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    method: str,
    path: str,
    params: dict[str, str],
    body: Any,
) -> None:
    call = build(*args, **kwargs)

    assert (call.method, call.path, dict(call.params)) == (method, path, params)
    assert (call.body if call.has_body else None) == body
    assert is_uuid4(call.idempotency_key) == (method == "POST")


def test_every_post_gets_a_fresh_idempotency_key_unless_one_is_given() -> None:
    target = {"url": "https://example.com/hook"}
    keys = {messages._send(target).idempotency_key for _ in range(50)}

    assert len(keys) == 50 and all(is_uuid4(k) for k in keys)
    given = messages._send(target, idempotency_key="order-42")
    assert given.idempotency_key == "order-42"
    assert given.headers()["Idempotency-Key"] == "order-42"


def test_schedule_create_sends_only_what_was_given_encoded() -> None:
    start = datetime(2030, 6, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    call = schedules._create(
        "nightly",
        "0 30 2 * * *",
        cronhook.Target("https://example.com/r", headers={"X-Team": "a"}, body={"n": None}),
        timezone="Europe/Berlin",
        retry={"max_attempts": 3},
        misfire=cronhook.Misfire(policy="skip"),
        start_at=start,
    )

    assert call.method == "POST" and call.path == "/v1/schedules"
    assert call.body == {
        "name": "nightly",
        "cron": "0 30 2 * * *",
        "target": {
            "url": "https://example.com/r",
            "method": "POST",
            "headers": {"X-Team": "a"},
            "body": {"n": None},  # a null inside the body is the tenant's data: kept
            "timeout_seconds": 30.0,
        },
        "timezone": "Europe/Berlin",
        "retry": {"max_attempts": 3},
        "misfire": {"policy": "skip", "grace_seconds": 300.0},
        "start_at": "2030-06-01T10:00:00.000Z",
    }


def test_schedule_update_is_a_merge_patch_of_the_given_fields_only() -> None:
    call = schedules._update(
        "sch_1", cron="0 0 3 * * *", timezone=None, target={"headers": {"X-Team": None}}
    )

    assert (call.method, call.path) == ("PATCH", "/v1/schedules/sch_1")
    assert call.body == {
        "cron": "0 0 3 * * *",
        "timezone": None,
        "target": {"headers": {"X-Team": None}},
    }
    assert call.idempotency_key is None
    with pytest.raises(ValueError, match="at least one field"):
        schedules._update("sch_1")


def test_tenant_update_sends_partial_limits() -> None:
    call = admin._update("ten_1", limits=cronhook.TenantLimits(max_schedules=5))

    assert call.body == {"limits": {"max_schedules": 5}}


def test_messages_are_sent_now_at_or_after() -> None:
    target = cronhook.Target("https://example.com/w", body="plain text")
    now = messages._send(target)
    at = messages._send(target, deliver_at=datetime(2030, 1, 1, tzinfo=UTC))
    after = messages._send(target, delay=timedelta(minutes=2))

    assert now.body == {"target": {**encode(target)}}
    assert at.body["deliver_at"] == "2030-01-01T00:00:00.000Z"
    assert after.body["delay_seconds"] == 120.0
    with pytest.raises(ValueError, match="not both"):
        messages._send(target, deliver_at=datetime(2030, 1, 1, tzinfo=UTC), delay=1)
    with pytest.raises(ValueError, match="naive"):
        messages._send(target, deliver_at=datetime(2030, 1, 1))


def test_lists_are_page_queries_with_filters_and_cursor() -> None:
    query = schedules._list(paused=False, name_prefix="nightly-", limit=2)

    first, later = query.call(None), query.call("c2")
    assert (first.method, first.path) == ("GET", "/v1/schedules")
    assert dict(first.params) == {"paused": "false", "name_prefix": "nightly-", "limit": "2"}
    assert dict(later.params) == {**first.params, "cursor": "c2"}
    assert schedules._fires("sch_1").call(None).path == "/v1/schedules/sch_1/fires"
    assert fires._dead_letters(limit=5).call(None).path == "/v1/dead-letters"
    assert admin._list().call(None).path == "/v1/tenants"


@pytest.mark.parametrize("bad", ["", None, 42])
def test_an_empty_or_non_string_id_is_refused_before_sending(bad: Any) -> None:
    with pytest.raises(ValueError, match="non-empty string"):
        schedules._get(bad)


def test_ids_are_percent_encoded_so_they_cannot_leave_their_path() -> None:
    assert schedules._get("../tenants").path == "/v1/schedules/..%2Ftenants"
    assert fires._get("a/b?c#d").path == "/v1/fires/a%2Fb%3Fc%23d"


# -- reading answers ------------------------------------------------------------------------


def test_a_fire_parses_into_typed_frozen_models() -> None:
    fire = p.model(cronhook.Fire)(response(200, FIRE | {"new_field": 1}))

    assert fire.id == "fire_1" and fire.schedule_id is None
    assert fire.scheduled_at == datetime(2030, 1, 1, tzinfo=UTC)
    [attempt] = fire.attempts
    assert attempt.duration_ms == 12.0 and isinstance(attempt.duration_ms, float)
    assert attempt.status_code == 200
    with pytest.raises(AttributeError):
        fire.status = "failed"  # type: ignore[misc]


def test_a_page_parses_items_and_cursor() -> None:
    page = p.page_of(cronhook.Fire)(response(200, {"items": [FIRE, FIRE], "next_cursor": "n"}))

    assert len(page.items) == 2 and page.next_cursor == "n"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({k: v for k, v in FIRE.items() if k != "status"}, "status"),
        (FIRE | {"attempts": [{**FIRE["attempts"][0], "number": "one"}]}, "attempts[0].number"),
        (FIRE | {"scheduled_at": "yesterday"}, "scheduled_at"),
        (FIRE | {"scheduled_at": "2030-01-01T00:00:00"}, "scheduled_at"),
        (FIRE | {"attempt_count": True}, "attempt_count"),
    ],
)
def test_a_body_that_breaks_the_contract_is_a_decode_error_naming_the_field(
    body: Any, where: str
) -> None:
    with pytest.raises(cronhook.ResponseDecodeError, match=re.escape(where)):
        p.model(cronhook.Fire)(response(200, body))


def test_a_non_json_success_is_a_decode_error_not_a_crash() -> None:
    with pytest.raises(cronhook.ResponseDecodeError) as caught:
        p.model(cronhook.Fire)(response(200, raw=b"<html>proxy</html>"))

    assert caught.value.status == 200 and "proxy" in caught.value.body


ERRORS = [
    (400, cronhook.APIError),
    (401, cronhook.AuthenticationError),
    (403, cronhook.PermissionDeniedError),
    (404, cronhook.NotFoundError),
    (405, cronhook.APIError),
    (409, cronhook.ConflictError),
    (413, cronhook.APIError),
    (415, cronhook.APIError),
    (422, cronhook.ValidationError),
    (429, cronhook.RateLimitError),
    (500, cronhook.ServerError),
    (502, cronhook.ServerError),
    (503, cronhook.ServerError),
]


@pytest.mark.parametrize(("status", "cls"), ERRORS)
def test_each_status_maps_to_its_error_class(status: int, cls: type[cronhook.APIError]) -> None:
    problem = {"type": "t", "title": "T", "status": status, "detail": f"detail {status}"}

    error = p.api_error(response(status, problem))

    assert type(error) is cls
    assert isinstance(error, cronhook.APIError) and isinstance(error, cronhook.CronhookError)
    assert (error.status, error.detail, error.problem) == (status, f"detail {status}", problem)
    assert f"detail {status}" in str(error) and "GET http://api.test/v1/x" in str(error)


def test_a_422_carries_the_field_errors() -> None:
    problem = {
        "type": "https://cronhook.dev/problems/validation",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "cron: bad; target.url: bad scheme",
        "errors": [
            {"field": "cron", "message": "minute field: 61 is out of range 0-59"},
            {"field": "target.url", "message": "scheme must be http or https"},
            "not an object",
        ],
    }

    error = p.api_error(response(422, problem))

    assert isinstance(error, cronhook.ValidationError)
    assert error.errors == (
        cronhook.FieldError("cron", "minute field: 61 is out of range 0-59"),
        cronhook.FieldError("target.url", "scheme must be http or https"),
    )
    assert error.messages("target.url") == ["scheme must be http or https"]


def test_an_error_without_a_problem_document_still_says_what_came_back() -> None:
    error = p.api_error(response(502, raw=b"<h1>Bad Gateway</h1>"))

    assert isinstance(error, cronhook.ServerError)
    assert error.problem["detail"] == "<h1>Bad Gateway</h1>"
    assert error.errors == ()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 2 ", 2.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Thu, 01 Jan 2030 00:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2030 00:00:00 GMT", 0.0),
        ("soon", None),
        ("nan", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value: str, seconds: float | None) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)

    assert p.retry_after(httpx.Headers({"Retry-After": value}), now) == seconds


def test_a_429_carries_retry_after() -> None:
    error = p.api_error(response(429, {"status": 429}, headers={"Retry-After": "3"}))

    assert isinstance(error, cronhook.RateLimitError) and error.retry_after == 3.0


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        (httpx.ConnectError("refused"), cronhook.ConnectionError),
        (httpx.RemoteProtocolError("eof"), cronhook.ConnectionError),
        (httpx.ReadTimeout("slow"), cronhook.TimeoutError),
        (httpx.ConnectTimeout("slow"), cronhook.TimeoutError),
        (httpx.PoolTimeout("busy"), cronhook.TimeoutError),
    ],
)
def test_transport_failures_map_to_connection_and_timeout_errors(
    error: httpx.TransportError, cls: type[cronhook.ConnectionError]
) -> None:
    request = httpx.Request("POST", "http://api.test/v1/messages")

    mapped = p.transport_error(error, request)

    assert type(mapped) is cls
    assert isinstance(mapped, cronhook.ConnectionError) and isinstance(
        mapped, cronhook.CronhookError
    )
    assert (mapped.method, mapped.url) == ("POST", "http://api.test/v1/messages")


# -- codec ---------------------------------------------------------------------------------


def test_instants_are_sent_as_utc_milliseconds_and_naive_ones_refused() -> None:
    berlin = timezone(timedelta(hours=1))

    assert (
        rfc3339(datetime(2030, 1, 1, 1, 0, 0, 123456, tzinfo=berlin)) == "2030-01-01T00:00:00.123Z"
    )
    with pytest.raises(ValueError, match="naive"):
        encode({"at": datetime(2030, 1, 1)})


def test_decode_keeps_the_offset_of_local_times() -> None:
    item = decode(
        cronhook.PreviewInstant,
        {"at": "2030-03-10T07:00:00.000Z", "local": "2030-03-10T03:00:00-04:00", "dst": "gap"},
    )

    assert item.local.utcoffset() == timedelta(hours=-4) and item.at == item.local
    assert item.dst == "gap"


def test_decode_names_a_missing_required_field() -> None:
    with pytest.raises(DecodeFailure, match="items: missing"):
        decode(cronhook.Preview, {"schedule_id": "sch_1", "timezone": "UTC"})


# -- server-sent events ----------------------------------------------------------------------


def feed(lines: list[str]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    return [e for e in map(decoder.feed, lines) if e is not None]


def test_sse_frames_comments_and_multiline_data() -> None:
    lines = [
        "retry: 3000",
        ": connected",
        "",
        "event: fire.dispatched",
        'data: {"a":',
        "data: 1}",
        "",
        ": keepalive",
        "",
        "data:no-space",
        "id: 7",
        "",
        "event: ignored-without-data",
        "",
    ]

    assert feed(lines) == [
        ServerSentEvent("fire.dispatched", '{"a":\n1}'),
        ServerSentEvent("message", "no-space", "7"),
    ]


def test_an_sse_frame_becomes_an_event() -> None:
    data = {
        "type": "fire.succeeded",
        "fire_id": "fire_1",
        "schedule_id": "sch_1",
        "at": "2030-01-01T00:00:00.004Z",
        "scheduled_at": "2030-01-01T00:00:00.000Z",
        "status": "succeeded",
        "attempt": 1,
        "status_code": 200,
    }

    event = to_event(ServerSentEvent("fire.succeeded", json.dumps(data)))

    assert (event.type, event.fire_id, event.attempt, event.status_code) == (
        "fire.succeeded",
        "fire_1",
        1,
        200,
    )
    with pytest.raises(cronhook.ResponseDecodeError):
        to_event(ServerSentEvent("fire.succeeded", "{not json"))
