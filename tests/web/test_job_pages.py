"""Long jobs and fan-out on the portal's fire views: a running job's progress, a finished
job's result (escaped and cut like a response excerpt), a fan-out's shard counts, and the
shard page routed only when the contract has its operation."""

from __future__ import annotations

import time
from typing import Any

import httpx

from app.jobs import JobRef, mint_token, token_hash
from app.models import JobSettings
from app.store import Store
from app.web import PORTAL
from app.web.render import RESULT_CHARS, SHARD_PAGES, environment, has_operation
from tests.web.conftest import Browser, Tenant

NASTY = '<script>alert(1)</script>"onmouseover=alert(2) ' + "ü" * 150
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&#34;onmouseover=alert(2)"


async def _running(api: httpx.AsyncClient, store: Store, t: Tenant) -> tuple[str, str, str]:
    """A triggered fire of a job schedule whose endpoint answered 202: (schedule, fire,
    job token)."""
    target = {"url": "http://127.0.0.1:9/job", "job": {"timeout_seconds": 3600}}
    body = {"name": "job", "cron": "0 0 1 1 *", "target": target}
    sid = (await api.post("/v1/schedules", json=body, headers=t.auth)).json()["id"]
    fid = (await api.post(f"/v1/schedules/{sid}/trigger", headers=t.auth)).json()["id"]
    token, now = mint_token(t.id, 1), int(time.time() * 1000)
    settings = JobSettings(3600, 600)
    assert await store.jobs.start(t.id, JobRef(fid), 1, token_hash(token), now, settings) == "go"
    answer = await store.jobs.answer(t.id, JobRef(fid), 1, "owner", 202, "", now)
    assert answer[0] == "running"
    return sid, fid, token


async def _report(api: httpx.AsyncClient, fid: str, token: str, kind: str, doc: Any) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    r = await api.post(f"/v1/fires/{fid}/job/{kind}", json=doc, headers=auth)
    assert r.status_code == 200, r.text


def _safe(html: str) -> None:
    assert "<script>alert" not in html
    assert '"onmouseover=' not in html


async def test_a_running_job_shows_its_progress_escaped(
    api: httpx.AsyncClient, store: Store, browser: Browser, tenant: Tenant
) -> None:
    sid, fid, token = await _running(api, store, tenant)
    await _report(api, fid, token, "progress", {"percent": 42, "message": NASTY})

    html = (await browser.get(f"/portal/schedules/{sid}")).text
    _safe(html)
    assert '<span class="status running">running</span>' in html
    assert '<progress max="100" value="42" aria-label="Job progress">' in html
    assert '<span class="percent">42 %</span>' in html
    assert f'<span class="message">{ESCAPED}' in html
    listing = (await browser.get("/portal")).text
    assert '<progress max="100" value="42"' in listing


async def test_a_finished_job_shows_its_result_escaped_and_cut(
    api: httpx.AsyncClient, store: Store, browser: Browser, tenant: Tenant
) -> None:
    sid, fid, token = await _running(api, store, tenant)
    result = {"note": NASTY, "rows": "x" * (3 * RESULT_CHARS)}
    await _report(api, fid, token, "complete", {"status": "succeeded", "result": result})

    html = (await browser.get(f"/portal/schedules/{sid}")).text
    _safe(html)
    assert '<span class="status succeeded">succeeded</span>' in html  # the job's state
    shown = html.split('<code class="excerpt result">', 1)[1].split("</code>", 1)[0]
    assert shown.startswith("{&#34;note&#34;:&#34;&lt;script&gt;alert(1)")
    assert shown.endswith("x…") and "x" * RESULT_CHARS not in shown


async def test_a_fire_without_a_job_shows_no_job(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant
) -> None:
    body = {"name": "plain", "cron": "0 0 1 1 *", "target": {"url": "http://127.0.0.1:9/"}}
    sid = (await api.post("/v1/schedules", json=body, headers=tenant.auth)).json()["id"]
    await api.post(f"/v1/schedules/{sid}/trigger", headers=tenant.auth)
    html = (await browser.get(f"/portal/schedules/{sid}")).text
    assert '<section class="fire">' in html
    assert 'class="job"' not in html and "<progress" not in html


def _fire(**extra: Any) -> dict[str, Any]:
    return {"id": "fir_p", "status": "running", "attempts": [], **extra}


def test_a_fan_out_shows_its_shard_counts_and_a_plain_fire_none() -> None:
    macros = environment().get_template("_macros.html").module
    fanout = {"shards": 64, "max_failed_shards": 5, "made": 64}
    counts = {"succeeded": 61, "failed": 3, "open": 0}
    html = str(macros.fanout(_fire(fanout=fanout | counts, shard=None)))  # type: ignore[attr-defined]
    assert "64 shards: 61 succeeded, 3 failed, 0 open" in html
    assert ('href="/portal/fires/fir_p/shards"' in html) == SHARD_PAGES
    part = {"shards": 64, "max_failed_shards": 0, "made": 20, "succeeded": 20, "failed": 0}
    assert "(20 made so far)" in str(macros.fanout(_fire(fanout=part | {"open": 44})))  # type: ignore[attr-defined]
    shard = {"parent_id": "fir_p", "index": 7, "count": 64}
    assert "Shard 7 of 64" in str(macros.fanout(_fire(shard=shard)))  # type: ignore[attr-defined]
    assert str(macros.fanout(_fire())).strip() == ""  # type: ignore[attr-defined]


async def test_the_shard_page_is_routed_only_with_its_operation(browser: Browser) -> None:
    assert has_operation("listFireShards") == SHARD_PAGES
    paths = [getattr(r, "path", "") for r in PORTAL]
    assert ("/portal/fires/{fire_id}/shards" in paths) == SHARD_PAGES
    r = await browser.get("/portal/fires/fir_nosuch/shards")
    assert r.status_code == 404


def test_an_operation_not_in_the_contract_is_not_there() -> None:
    assert has_operation("getFire")
    assert not has_operation("noSuchOperation")
