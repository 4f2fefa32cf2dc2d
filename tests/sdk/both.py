"""One test body for both clients.

`api = Both(client)` wraps a `Client` or an `AsyncClient`; `await api("schedules.get", id)`
awaits the async method, or runs the blocking one in a worker thread (so servers running
in the test's own loop keep serving). `await api.all("schedules.list", limit=2)` drains an
auto-paginating list into a Python list.
"""

from __future__ import annotations

import asyncio
from typing import Any

import cronhook

Clients = cronhook.Client | cronhook.AsyncClient | cronhook.AdminClient | cronhook.AsyncAdminClient
MODES = ["sync", "async"]


class Both:
    def __init__(self, client: Clients) -> None:
        self.client = client
        self.is_async = isinstance(client, cronhook.AsyncClient | cronhook.AsyncAdminClient)

    def _resolve(self, op: str) -> Any:
        target: Any = self.client
        for part in op.split("."):
            target = getattr(target, part)
        return target

    async def __call__(self, op: str, *args: Any, **kwargs: Any) -> Any:
        method = self._resolve(op)
        if self.is_async:
            return await method(*args, **kwargs)
        return await asyncio.to_thread(method, *args, **kwargs)

    async def all(self, op: str, *args: Any, **kwargs: Any) -> list[Any]:
        """Every item of a paginated list, through its auto-pagination."""
        pager = self._resolve(op)(*args, **kwargs)
        if self.is_async:
            return [item async for item in pager]
        return await asyncio.to_thread(list, pager)

    async def pages(self, op: str, *args: Any, **kwargs: Any) -> list[cronhook.Page[Any]]:
        pager = self._resolve(op)(*args, **kwargs)
        if self.is_async:
            return [page async for page in pager.pages()]
        return await asyncio.to_thread(lambda: list(pager.pages()))

    async def close(self) -> None:
        if isinstance(self.client, cronhook.AsyncClient | cronhook.AsyncAdminClient):
            await self.client.aclose()
        else:
            self.client.close()


def make(mode: str, kind: str, base_url: str, token: str, **options: Any) -> Both:
    """A wrapped `Client`/`AsyncClient` (kind "tenant") or admin client (kind "admin")."""
    classes = {
        ("sync", "tenant"): cronhook.Client,
        ("async", "tenant"): cronhook.AsyncClient,
        ("sync", "admin"): cronhook.AdminClient,
        ("async", "admin"): cronhook.AsyncAdminClient,
    }
    return Both(classes[mode, kind](base_url, token, **options))
