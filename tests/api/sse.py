"""Reading a Server-Sent Events stream in tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx


class Stream:
    """An open SSE stream, parsed into (event, data) as it arrives."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.comments = 0
        self.ready = asyncio.Event()

    async def run(self, client: httpx.AsyncClient, key: str, query: str = "") -> None:
        headers = {"Authorization": f"Bearer {key}"}
        async with client.stream("GET", f"/v1/events{query}", headers=headers) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            name = ""
            async for line in r.aiter_lines():
                if line.startswith(":"):
                    self.comments += 1
                    self.ready.set()
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self.events.append((name, json.loads(line[6:])))

    def of(self, fire_id: str) -> list[str]:
        return [n for n, d in self.events if d["fire_id"] == fire_id]


@contextlib.asynccontextmanager
async def streaming(client: httpx.AsyncClient, key: str, query: str = "") -> AsyncIterator[Stream]:
    s = Stream()
    task = asyncio.create_task(s.run(client, key, query))
    await asyncio.wait_for(s.ready.wait(), 10)
    try:
        yield s
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(pred: Any, within: float = 20.0) -> None:
    for _ in range(int(within * 20)):
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the events did not arrive in time")
