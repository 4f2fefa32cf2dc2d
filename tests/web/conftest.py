"""The pages in process (httpx over ASGI) on both store backends: sign-in by link, then a
browser-like client that keeps the session cookie and reads CSRF tokens off the pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.api import create_app
from app.settings import Settings
from app.store import Store
from tests.api.conftest import ADMIN, ADMIN_TOKEN, Tenant, onboard

__all__ = ["ADMIN", "Browser", "Tenant", "onboard"]

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browser:
    """One browser's cookie jar against the app, and the API beside it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def open(self, url: str) -> httpx.Response:
        r = await self.client.get(url.removeprefix("http://api"))
        return r

    async def get(self, path: str) -> httpx.Response:
        r = await self.client.get(path)
        found = _CSRF.search(r.text)
        if found:
            self.csrf = found.group(1)
        return r

    async def post(
        self, path: str, form: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        data = {"csrf": self.csrf, **(form or {})}
        return await self.client.post(path, data=data, **kw)


@pytest.fixture
def settings() -> Settings:
    return Settings(admin_token=ADMIN_TOKEN, allow_private_targets=True)


@pytest.fixture
async def app(store: Store, settings: Settings) -> Any:
    return create_app(store, settings)


@pytest.fixture
async def api(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as c:
        yield c


async def signed_in(app: Any, api: httpx.AsyncClient, t: Tenant, **link: Any) -> Browser:
    r = await api.post(f"/v1/tenants/{t.id}/portal-links", json=link, headers=ADMIN)
    assert r.status_code == 201, r.text
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
    b = Browser(client)
    assert (await b.open(r.json()["url"])).status_code == 303
    assert (await b.get("/portal")).status_code == 200
    return b


@pytest.fixture
async def tenant(api: httpx.AsyncClient) -> Tenant:
    return await onboard(api, "a")


@pytest.fixture
async def browser(app: Any, api: httpx.AsyncClient, tenant: Tenant) -> AsyncIterator[Browser]:
    b = await signed_in(app, api, tenant)
    yield b
    await b.client.aclose()
