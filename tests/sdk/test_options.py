"""Conventions users of other API SDKs rely on: `with_options` for per-call settings, the
request id on every error, and a receiver that verifies without loading the HTTP client."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

import cronhook


def _counting(status: int, seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        rid = request.headers.get("x-request-id", "")
        return httpx.Response(
            status, json={"title": "x", "status": status}, headers={"X-Request-Id": rid}
        )

    return httpx.MockTransport(handler)


def test_with_options_sets_timeout_and_retries_for_the_copy_only() -> None:
    # given a client that retries twice, over a server that always answers 503
    seen: list[httpx.Request] = []
    http = httpx.Client(transport=_counting(503, seen))
    client = cronhook.Client("http://api", "chk_x", http_client=http, backoff=0.001)
    # when a copy with no retries and a 2 s timeout makes the same call
    quick = client.with_options(timeout=2.0, max_retries=0)
    with pytest.raises(cronhook.ServerError):
        quick.schedules.get("sch_1")
    # then it tried once, with its own timeout
    assert len(seen) == 1
    assert seen[0].extensions["timeout"]["read"] == 2.0
    # and the original keeps its settings
    seen.clear()
    with pytest.raises(cronhook.ServerError):
        client.schedules.get("sch_1")
    assert len(seen) == 3 and seen[0].extensions["timeout"]["read"] == 30.0
    # and closing the copy leaves the shared pool open
    quick.close()
    assert not http.is_closed
    client.close()
    http.close()


async def test_async_with_options_shares_the_pool_and_keeps_the_rest() -> None:
    async with cronhook.AsyncClient("http://api", "chk_x", max_retries=5) as client:
        quick = client.with_options(max_retries=1)
        assert quick._transport._http is client._transport._http
        assert quick._transport.settings.retry.max_retries == 1
        assert quick._transport.settings.token == "chk_x"
        assert client._transport.settings.retry.max_retries == 5
        await quick.aclose()
        assert not client._transport._http.is_closed


def test_admin_clients_have_with_options_too() -> None:
    with cronhook.AdminClient("http://api", "admin") as admin:
        assert admin.with_options(timeout=1.0)._transport.settings.timeout.read == 1.0


def test_every_api_error_carries_the_request_id() -> None:
    # given a server that answers 404 and echoes the request's id
    seen: list[httpx.Request] = []
    http = httpx.Client(transport=_counting(404, seen))
    with cronhook.Client("http://api", "chk_x", http_client=http) as client:
        # when two calls fail
        with pytest.raises(cronhook.NotFoundError) as first:
            client.schedules.get("sch_1")
        with pytest.raises(cronhook.NotFoundError) as second:
            client.schedules.get("sch_1")
    # then each error names the id its request carried, distinct per call
    ids = [r.headers["x-request-id"] for r in seen]
    assert [first.value.request_id, second.value.request_id] == ids
    assert ids[0] != ids[1] and ids[0].startswith("req_")
    assert ids[0] in str(first.value)


def test_retries_of_one_call_share_its_request_id() -> None:
    seen: list[httpx.Request] = []
    http = httpx.Client(transport=_counting(503, seen))
    client = cronhook.Client("http://api", "chk_x", http_client=http, backoff=0.001)
    with client, pytest.raises(cronhook.ServerError) as e:
        client.schedules.get("sch_1")
    assert len({r.headers["x-request-id"] for r in seen}) == 1
    assert e.value.request_id == seen[0].headers["x-request-id"]


def test_the_servers_request_id_wins_when_it_gives_another() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            409, json={"title": "c", "status": 409}, headers={"X-Request-Id": "srv-1"}
        )

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = cronhook.Client("http://api", "chk_x", http_client=http)
    with client, pytest.raises(cronhook.ConflictError) as e:
        client.schedules.delete("sch_1")
    assert e.value.request_id == "srv-1"


async def test_a_connection_error_carries_the_request_id_it_sent(free_port: int) -> None:
    async with cronhook.AsyncClient(f"http://127.0.0.1:{free_port}", "chk_x", max_retries=0) as c:
        with pytest.raises(cronhook.ConnectionError) as e:
            await c.schedules.get("sch_1")
    assert e.value.request_id is not None and e.value.request_id.startswith("req_")
    assert e.value.request_id in str(e.value)


def test_importing_webhook_does_not_load_httpx() -> None:
    probe = (
        "import sys; from cronhook import Webhook; "
        "print(sorted(m for m in ('httpx', 'anyio', 'httpcore') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_clients_are_still_importable_from_the_package() -> None:
    probe = (
        "import sys, cronhook; from cronhook import Client, AsyncClient, Retry, Pager; "
        "assert cronhook.AdminClient.__name__ == 'AdminClient'; print('httpx' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "True", out.stdout + out.stderr
