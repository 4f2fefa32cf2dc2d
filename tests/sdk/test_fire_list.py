"""`client.fires.list(...)` and `client.schedules.fires(..., status=)` send the filters
the contract names, and walk the pages."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

import cronhook


def test_fires_list_sends_its_filters_and_walks_the_pages() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        last = "cursor" in request.url.params
        return httpx.Response(200, json={"items": [], "next_cursor": None if last else "c1"})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with cronhook.Client("http://api", "chk_x", http_client=http) as client:
        since = datetime(2030, 1, 1, tzinfo=UTC)
        got = list(client.fires.list(status="failed", kind="message", since=since, limit=5))
        list(client.schedules.fires("sch_1", status="succeeded"))
    assert got == []
    first = seen[0]
    assert first.path == "/v1/fires"
    assert dict(first.params) == {
        "status": "failed",
        "kind": "message",
        "since": "2030-01-01T00:00:00.000Z",
        "limit": "5",
    }
    assert seen[1].params["cursor"] == "c1"
    assert seen[2].path == "/v1/schedules/sch_1/fires"
    assert seen[2].params["status"] == "succeeded"
