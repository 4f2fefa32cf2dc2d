"""No secret in a log line or in a URL after sign-in: a whole walk (minting portal and
console links, opening them, the portal's pages, rotating the signing secret, onboarding
a tenant in the console, a support link, signing out) while every log record is captured
(the root logger at DEBUG in process; a real `cronhook api` process's output at DEBUG),
then no link token, session cookie, CSRF token, API key, signing secret or admin token
in any record, in any redirect's Location or in any link of any page."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.logs import JsonFormatter
from tests.e2e import test_processes
from tests.e2e.procs import Fleet, wait_http
from tests.web.conftest import ADMIN

_LINK = re.compile(r'(?:href|src|action)="([^"]*)"')
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# tests/e2e's fleet on the real services (its env, its cleanup), as a fixture here too
e2e_fleet = test_processes.real_fleet
PORTAL_PAGES = ("/portal", "/portal/messages", "/portal/events", "/portal/signing-secret")


@dataclass
class Seen:
    """What a browser met after sign-in: redirect targets, links, and the URLs it asked."""

    urls: list[str] = field(default_factory=list)

    async def response(self, r: httpx.Response) -> None:
        await r.aread()
        if not r.request.url.path.endswith("/sign-in"):  # the link: its token, before sign-in
            self.urls.append(str(r.request.url))
        if "location" in r.headers:
            self.urls.append(r.headers["location"])
        if r.headers.get("content-type", "").startswith("text/html"):
            self.urls += _LINK.findall(r.text)


Client = Callable[[Seen | None], httpx.AsyncClient]


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def _shown(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]+)<', html)
    assert found is not None, f"#{element_id} is not on the page"
    return found.group(1)


async def _open(b: httpx.AsyncClient, link: str, area: str) -> tuple[str, str]:
    """Sign in by ``link``: the session cookie and the CSRF token of the area's home."""
    r = await b.get(link)
    assert r.status_code == 303 and r.headers["location"] == f"/{area}"
    home = await b.get(f"/{area}")
    assert home.status_code == 200
    csrf = _CSRF.search(home.text)
    assert csrf is not None
    return str(b.cookies[f"cronhook_{area}"]), csrf.group(1)


async def _links(client: Client, admin: dict[str, str]) -> dict[str, str]:
    """A tenant made through the API and three links: its secrets and the links' tokens."""
    async with client(None) as api:
        r = await api.post("/v1/tenants", json={"name": "quiet"}, headers=admin)
        assert r.status_code == 201, r.text
        t = r.json()
        key = {"Authorization": f"Bearer {t['api_key']}"}
        mint = [
            await api.post(f"/v1/tenants/{t['id']}/portal-links", json={}, headers=admin),
            await api.post("/v1/portal-links", json={}, headers=key),
            await api.post("/v1/admin/console-links", json={}, headers=admin),
        ]
    assert [m.status_code for m in mint] == [201] * 3
    return {
        "tenant id": t["id"],
        "admin token": admin["Authorization"].removeprefix("Bearer "),
        "API key": t["api_key"],
        "signing secret": t["signing_secret"],
        "portal link": mint[0].json()["url"],
        "tenant's own portal link": mint[1].json()["url"],
        "console link": mint[2].json()["url"],
    }


async def _portal(b: httpx.AsyncClient, link: str) -> dict[str, str]:
    cookie, csrf = await _open(b, link, "portal")
    for path in PORTAL_PAGES:
        assert (await b.get(path)).status_code == 200, path
    rotated = await b.post("/portal/signing-secret/rotate", data={"csrf": csrf})
    assert rotated.status_code == 200
    new_secret = _shown(rotated.text, "new-secret")
    assert (await b.post("/portal/sign-out", data={"csrf": csrf})).status_code == 200
    return {"portal cookie": cookie, "portal CSRF token": csrf, "rotated secret": new_secret}


async def _console(b: httpx.AsyncClient, link: str, tenant_id: str) -> dict[str, str]:
    cookie, csrf = await _open(b, link, "console")
    onboarded = await b.post("/console/tenants/new", data={"csrf": csrf, "name": "handed over"})
    assert onboarded.status_code == 200
    support = await b.post(f"/console/tenants/{tenant_id}/portal-link", data={"csrf": csrf})
    assert support.status_code == 200
    for path in ("/console", "/console/fleet", "/console/forecast"):
        assert (await b.get(path)).status_code == 200, path
    assert (await b.post("/console/sign-out", data={"csrf": csrf})).status_code == 200
    return {
        "console cookie": cookie,
        "console CSRF token": csrf,
        "onboarded API key": _shown(onboarded.text, "new-api-key"),
        "onboarded signing secret": _shown(onboarded.text, "new-signing-secret"),
        "support link token": _token(_shown(support.text, "portal-link")),
    }


async def walk(client: Client, admin: dict[str, str]) -> tuple[dict[str, str], Seen]:
    """The whole walk; returns every secret met (by what it is) and what the browsers saw."""
    found, seen = await _links(client, admin), Seen()
    async with client(seen) as b:
        found |= await _portal(b, found["portal link"])
    async with client(seen) as b:
        found |= await _console(b, found["console link"], found.pop("tenant id"))
    for name in ("portal link", "tenant's own portal link", "console link"):
        found[f"{name} token"] = _token(found.pop(name))
    assert all(len(v) >= 16 for v in found.values()), found
    assert len(set(found.values())) == len(found)
    return found, seen


def assert_nowhere(found: dict[str, str], where: dict[str, str]) -> None:
    leaks = [(what, place) for what, v in found.items() for place, t in where.items() if v in t]
    assert leaks == [], f"secrets found: {leaks}"


def assert_no_secret_in_urls(found: dict[str, str], seen: Seen) -> None:
    assert len(seen.urls) > 20  # the redirects, the pages asked and their links
    assert "/portal" in seen.urls and "/console" in seen.urls  # the sign-ins' redirects
    assert_nowhere(found, {f"URL {u}": u for u in seen.urls})


def _record_text(r: logging.LogRecord) -> str:
    return "\n".join((str(r.msg), repr(r.args), r.getMessage(), JsonFormatter().format(r)))


async def test_no_secret_in_a_log_record_or_a_url_in_process(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def client(seen: Seen | None) -> httpx.AsyncClient:
        hooks = {"response": [seen.response]} if seen else {}
        transport = httpx.ASGITransport(app=app)
        return httpx.AsyncClient(transport=transport, base_url="http://api", event_hooks=hooks)

    caplog.set_level(logging.DEBUG)  # the root logger: every logger's records
    found, seen = await walk(client, ADMIN)

    # this test's own HTTP client logs the URLs it asks, sign-in links included: its lines
    # are the browser's history, not the server's logs
    ours = [r for r in caplog.records if r.name == "httpx"]
    assert ours and all(str(r.msg).startswith("HTTP Request:") for r in ours)
    records = [r for r in caplog.records if r.name != "httpx"]
    assert_nowhere(found, {f"record {i}": _record_text(r) for i, r in enumerate(records)})
    assert_no_secret_in_urls(found, seen)


@pytest.mark.external_service
@pytest.mark.e2e
async def test_no_secret_in_the_api_process_output(e2e_fleet: Fleet) -> None:
    env = e2e_fleet.env
    env["CRONHOOK_LOG_LEVEL"] = "DEBUG"
    base = f"http://127.0.0.1:{env['CRONHOOK_PORT']}"
    proc = e2e_fleet.start("api")
    await wait_http(f"{base}/healthz", proc=proc)
    admin = {"Authorization": f"Bearer {env['CRONHOOK_ADMIN_TOKEN']}"}

    def client(seen: Seen | None) -> httpx.AsyncClient:
        hooks = {"response": [seen.response]} if seen else {}
        return httpx.AsyncClient(base_url=base, event_hooks=hooks, timeout=10)

    found, seen = await walk(client, admin)
    assert await e2e_fleet.stop(proc) == 0
    output = proc.output()

    assert '"level": "debug"' in output  # it did log, at DEBUG
    assert_nowhere(found, {"the api process's output": output})
    assert_no_secret_in_urls(found, seen)
