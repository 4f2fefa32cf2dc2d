"""The API in process (httpx over ASGI) on both store backends; every response a test
receives is checked against openapi.yaml."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.api import create_app
from app.settings import Settings
from app.store import Store
from tests.spec import conforms

ADMIN_TOKEN = "admin-token-for-tests"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def check_response(response: httpx.Response) -> None:
    """An httpx response hook: the response as the contract documents it (an endless event
    stream is checked by its status and media type, without reading it)."""
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        await response.aread()
    conforms(response)


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://api",
        event_hooks={"response": [check_response]},
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.api.live import REPORTS

    for line in REPORTS:
        terminalreporter.write_line(line)


@pytest.fixture
def settings() -> Settings:
    return Settings(admin_token=ADMIN_TOKEN, allow_private_targets=True)


@pytest.fixture
async def api(store: Store, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(store, settings)) as client:
        yield client


class Tenant:
    """A tenant onboarded through the API, with its key as request headers."""

    def __init__(self, created: dict[str, Any]) -> None:
        self.id: str = created["id"]
        self.key: str = created["api_key"]
        self.secret: str = created["signing_secret"]
        self.auth = {"Authorization": f"Bearer {self.key}"}


async def onboard(api: httpx.AsyncClient, name: str = "t", **extra: Any) -> Tenant:
    r = await api.post("/v1/tenants", json={"name": name, **extra}, headers=ADMIN)
    assert r.status_code == 201, r.text
    return Tenant(r.json())


@pytest.fixture
async def tenant(api: httpx.AsyncClient) -> Tenant:
    return await onboard(api, "a")


def schedule_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "s",
        "cron": "*/5 * * * * *",
        "target": {"url": "http://127.0.0.1:9/hook", "body": {"a": 1}},
    }
    return body | changes


async def make_schedule(api: httpx.AsyncClient, t: Tenant, **changes: Any) -> dict[str, Any]:
    r = await api.post("/v1/schedules", json=schedule_body(**changes), headers=t.auth)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created
