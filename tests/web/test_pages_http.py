"""The pages over HTTP: links, cookies, CSRF, read-only sessions, isolation, headers, and
the API's own rules and errors on the forms."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from typing import Any

import httpx
import pytest

from app.api import create_app
from app.settings import Settings
from app.store import Store
from app.store.websessions import Grant
from app.web.portal import back_to
from app.web.render import CSP
from tests.e2e.procs import ROOT
from tests.web.conftest import ADMIN, Browser, Tenant, onboard, signed_in

SCHEDULE = {
    "name": "nightly",
    "cron": "*/5 * * * *",
    "timezone": "UTC",
    "target.url": "http://127.0.0.1:9/hook",
    "target.method": "POST",
}
PAGES = [
    "/portal",
    "/portal/schedules/new",
    "/portal/dead-letters",
    "/portal/messages",
    "/portal/signing-secret",
    "/portal/events",
    "/portal/forecast",
]


async def _schedules(api: httpx.AsyncClient, t: Tenant) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api.get("/v1/schedules", headers=t.auth)).json()["items"]
    return items


async def test_a_link_signs_in_once_and_leaves_no_token_in_the_url(
    app: Any, api: httpx.AsyncClient, tenant: Tenant
) -> None:
    r = await api.post(f"/v1/tenants/{tenant.id}/portal-links", json={}, headers=ADMIN)
    assert r.status_code == 201
    link = r.json()
    assert set(link) == {"url", "expires_at"}
    assert link["url"].startswith("http://api/portal/sign-in?token=")
    first, second = (
        Browser(httpx.AsyncClient(transport=httpx.ASGITransport(app=app))),
        Browser(httpx.AsyncClient(transport=httpx.ASGITransport(app=app))),
    )

    opened = await first.client.get(link["url"])
    again = await second.client.get(link["url"])

    assert opened.status_code == 303
    assert opened.headers["location"] == "/portal"
    assert again.status_code == 410
    assert "set-cookie" not in again.headers
    assert (await second.client.get("http://api/portal")).status_code == 401


async def test_an_expired_link_is_refused(app: Any, store: Store) -> None:
    token = await store.web.mint_link(Grant("console", None), ttl_ms=50)
    await asyncio.sleep(0.3)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as c:
        r = await c.get(f"http://api/console/sign-in?token={token}")
    assert r.status_code == 410
    assert "expired" in r.text


async def test_the_session_cookie_is_httponly_lax_scoped_and_expiring(
    app: Any, api: httpx.AsyncClient, tenant: Tenant
) -> None:
    link = (await api.post("/v1/portal-links", json={}, headers=tenant.auth)).json()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as c:
        cookie = (await c.get(link["url"])).headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/portal" in cookie
    assert "max-age=28800" in cookie
    assert "secure" not in cookie  # plain http: a Secure cookie would never come back


async def test_behind_tls_links_use_the_public_url_and_the_cookie_is_secure(
    store: Store, tenant: Tenant
) -> None:
    settings = Settings(admin_token="admin-token-for-tests", public_url="https://ch.example")
    app = create_app(store, settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://in") as c:
        r = await c.post(f"/v1/tenants/{tenant.id}/portal-links", json={}, headers=ADMIN)
        url = r.json()["url"]
        cookie = (await c.get(url.replace("https://ch.example", ""))).headers["set-cookie"]
    assert url.startswith("https://ch.example/portal/sign-in?token=")
    assert "secure" in cookie.lower()


async def test_every_page_has_a_strict_csp_and_no_inline_script_or_style(browser: Browser) -> None:
    for path in PAGES:
        r = await browser.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-security-policy"] == CSP
        assert "unsafe-inline" not in CSP
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
        assert not re.search(r"<script(?![^>]*\bsrc=)", r.text), path
        assert not re.search(r"\sstyle=|\son[a-z]+=", r.text), path


async def test_assets_are_served_by_cronhook_itself(browser: Browser) -> None:
    page = (await browser.get("/portal")).text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert sorted(assets) == ["/static/web.css", "/static/web.js"]
    assert "http" not in " ".join(re.findall(r'(?:src|href)="([^"]+)"', page)).replace(
        "https://", "http"
    ).removeprefix("http")  # no absolute URL at all
    for asset in assets:
        r = await browser.client.get(asset)
        assert r.status_code == 200
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant
) -> None:
    for token in ("", "forged"):
        form = {**SCHEDULE, "csrf": token}
        r = await browser.client.post("/portal/schedules/new", data=form)
        assert r.status_code == 403
    assert await _schedules(api, tenant) == []
    s = (await browser.post("/portal/schedules/new", SCHEDULE)).headers["location"].split("?")[0]
    r = await browser.client.post(f"{s}/pause", data={"csrf": "forged"})
    assert r.status_code == 403
    assert (await _schedules(api, tenant))[0]["paused"] is False


async def test_a_read_only_session_looks_but_changes_nothing(
    app: Any, api: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await api.post(
        "/v1/schedules",
        json={"name": "x", "cron": "* * * * *", "target": {"url": "http://127.0.0.1:9/"}},
        headers=tenant.auth,
    )
    sid = created.json()["id"]
    b = await signed_in(app, api, tenant, read_only=True)

    page = await b.get(f"/portal/schedules/{sid}")
    refused = [
        await b.post("/portal/schedules/new", SCHEDULE),
        await b.post(f"/portal/schedules/{sid}/pause"),
        await b.post(f"/portal/schedules/{sid}/delete"),
        await b.post("/portal/signing-secret/rotate"),
        await b.post("/portal/messages", {"target.url": "http://127.0.0.1:9/"}),
    ]

    assert page.status_code == 200
    assert "read-only" in page.text
    assert "/pause" not in page.text and "Trigger now" not in page.text
    assert [r.status_code for r in refused] == [403] * 5
    forms = [await b.get(f"/portal/schedules/{sid}/edit"), await b.get("/portal/messages")]
    assert [r.status_code for r in forms] == [403, 403]
    assert [s["paused"] for s in await _schedules(api, tenant)] == [False]
    await b.client.aclose()


async def test_a_session_of_tenant_a_never_reaches_tenant_b(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant
) -> None:
    other = await onboard(api, "b")
    body = {"name": "secret-b", "cron": "* * * * *", "target": {"url": "http://127.0.0.1:9/"}}
    sid = (await api.post("/v1/schedules", json=body, headers=other.auth)).json()["id"]
    fire = (await api.post(f"/v1/schedules/{sid}/trigger", headers=other.auth)).json()["id"]

    answers = [
        await browser.get(f"/portal/schedules/{sid}"),
        await browser.get(f"/portal/schedules/{sid}/edit"),
        await browser.post(f"/portal/schedules/{sid}/pause"),
        await browser.post(f"/portal/schedules/{sid}/delete"),
        await browser.post(f"/portal/fires/{fire}/replay", {"next": "/portal"}),
    ]
    listing = await browser.get("/portal")

    assert [r.status_code for r in answers] == [404] * 5
    assert "secret-b" not in listing.text
    assert (await api.get(f"/v1/schedules/{sid}", headers=other.auth)).json()["paused"] is False


async def test_links_are_minted_only_by_who_may(api: httpx.AsyncClient, tenant: Tenant) -> None:
    assert (await api.post("/v1/admin/console-links", headers=tenant.auth)).status_code == 403
    assert (await api.post("/v1/portal-links", headers=ADMIN)).status_code == 403
    gone = await api.post("/v1/tenants/ten_nope/portal-links", headers=ADMIN)
    assert gone.status_code == 404
    bad = await api.post("/v1/portal-links", json={"expires_in_seconds": 5}, headers=tenant.auth)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "expires_in_seconds"


async def test_a_link_opens_only_its_own_area(app: Any, api: httpx.AsyncClient) -> None:
    console = (await api.post("/v1/admin/console-links", headers=ADMIN)).json()["url"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as c:
        r = await c.get(console.replace("/console/", "/portal/"))
        assert r.status_code == 410
        assert (await c.get("http://api/console")).status_code == 401


async def test_signing_out_ends_the_session(browser: Browser) -> None:
    r = await browser.post("/portal/sign-out")
    assert r.status_code == 200
    assert "cronhook_portal=" in r.headers["set-cookie"]
    assert (await browser.client.get("/portal")).status_code == 401


async def test_the_form_shows_the_apis_own_field_errors(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant
) -> None:
    bad = {**SCHEDULE, "cron": "61 * * * *", "target.url": "ftp://x", "retry.max_attempts": "0"}
    body = {
        "name": "nightly",
        "cron": "61 * * * *",
        "timezone": "UTC",
        "target": {"url": "ftp://x", "method": "POST"},
        "paused": False,
        "retry": {"max_attempts": 0},
    }

    page = await browser.post("/portal/schedules/new", bad)
    problem = await api.post("/v1/schedules", json=body, headers=tenant.auth)

    assert page.status_code == 422 and problem.status_code == 422
    shown = [
        m.replace("&#39;", "'") for m in re.findall(r'class="field-error"[^>]*>([^<]*)', page.text)
    ]
    assert sorted(shown) == sorted(e["message"] for e in problem.json()["errors"])
    assert await _schedules(api, tenant) == []


async def test_tenant_text_is_escaped_everywhere(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant
) -> None:
    nasty = '<script>alert(1)</script>"onmouseover=alert(2) ' + "ü" * 150
    body = {**SCHEDULE, "name": nasty, "target.body": nasty, "target.headers": "X-A: <b>"}
    sid = (await browser.post("/portal/schedules/new", body)).headers["location"].split("?")[0]
    for path in ("/portal", sid, f"{sid}/edit", f"{sid}/delete"):
        html = (await browser.get(path)).text
        assert "<script>alert" not in html, path
        assert '"onmouseover=' not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;onmouseover=alert(2)" in html, path


async def test_the_new_secret_is_shown_once_and_never_again(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant
) -> None:
    rotated = await browser.post("/portal/signing-secret/rotate")
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", rotated.text)
    later = await browser.get("/portal/signing-secret")

    assert rotated.status_code == 200 and secret is not None
    assert rotated.headers["cache-control"] == "no-store"
    assert secret.group(0) not in later.text
    assert secret.group(0)[:10] in later.text  # its prefix, to recognise it
    assert secret.group(0) != tenant.secret


async def test_editing_replaces_headers_and_body_and_keeps_what_the_form_does_not_show(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant
) -> None:
    body = {
        "name": "e",
        "cron": "*/5 * * * *",
        "target": {"url": "http://127.0.0.1:9/a", "headers": {"X-Old": "1"}, "body": {"a": 1}},
        "retry": {"max_attempts": 5, "min_backoff_seconds": 7},
        "metadata": {"team": "ops"},
    }
    sid = (await api.post("/v1/schedules", json=body, headers=tenant.auth)).json()["id"]
    await browser.get(f"/portal/schedules/{sid}/edit")
    form = {
        **SCHEDULE,
        "name": "e2",
        "target.headers": "X-New: 2",
        "target.body": '{"b": 2}',
        "retry.max_attempts": "3",
    }

    r = await browser.post(f"/portal/schedules/{sid}/edit", form)
    s = (await api.get(f"/v1/schedules/{sid}", headers=tenant.auth)).json()

    assert r.status_code == 303
    assert s["name"] == "e2"
    assert s["target"]["headers"] == {"X-New": "2"}
    assert s["target"]["body"] == {"b": 2}
    assert s["retry"]["max_attempts"] == 3 and s["retry"]["min_backoff_seconds"] == 7
    assert s["metadata"] == {"team": "ops"}


async def test_replaying_a_fire_not_yet_finished_shows_the_apis_conflict(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant
) -> None:
    body = {"target": {"url": "http://127.0.0.1:9/"}}
    fire = (await api.post("/v1/messages", json=body, headers=tenant.auth)).json()["id"]
    r = await browser.post(f"/portal/fires/{fire}/replay", {"next": "/portal/dead-letters"})
    assert r.status_code == 409
    assert "only a succeeded or failed fire is replayed" in r.text


@pytest.mark.parametrize(
    ("given", "goes"),
    [
        ("/portal/dead-letters", "/portal/dead-letters"),
        ("/portal/schedules/sch_1", "/portal/schedules/sch_1"),
        ("https://evil.example/", "/portal"),
        ("//evil.example/portal/", "/portal"),
        ("/portal//evil.example", "/portal"),
        ("/portalx", "/portal"),
        ("/console", "/portal"),
        ("", "/portal"),
    ],
)
def test_a_form_goes_back_only_to_a_page_of_its_own_area(given: str, goes: str) -> None:
    assert back_to({"next": given}) == goes


async def test_deleting_the_tenant_ends_its_sessions(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant
) -> None:
    assert (await api.delete(f"/v1/tenants/{tenant.id}", headers=ADMIN)).status_code == 204
    assert (await browser.get("/portal")).status_code == 401


def test_the_api_process_and_its_pages_import_no_worker_code() -> None:
    code = (
        "import sys, app.api, app.web, app.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'dispatcher'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


async def test_the_live_preview_applies_the_tenants_own_rules(
    api: httpx.AsyncClient, app: Any, store: Store
) -> None:
    slow = await onboard(api, "slow", limits={"min_interval_seconds": 60})
    b = await signed_in(app, api, slow)
    q = "/portal/cron-preview?timezone=Europe/Berlin&cron="

    good = (await b.get(q + "0+9+*+*+MON-FRI")).json()
    fast = (await b.get(q + "*/10+*+*+*+*+*")).json()
    bad = (await b.get(q + "61+*+*+*+*")).json()

    assert good["ok"] and good["words"] == "at 09:00 on MON-FRI"
    assert len(good["next"]) == 5
    assert all(i["local"][11:19] == "09:00:00" for i in good["next"])
    assert fast == {
        "ok": False,
        "errors": [
            {"field": "cron", "message": "fires every 10s; this tenant's minimum interval is 60s"}
        ],
    }
    assert bad["ok"] is False and bad["errors"][0]["field"] == "cron"
    await b.client.aclose()
