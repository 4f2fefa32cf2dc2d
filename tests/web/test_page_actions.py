"""The portal's actions done for real over HTTP, each with the page's CSRF token: trigger,
resume, delete through its confirmation page, and a one-off message. Each is checked
through the API (the fire exists, the schedule is active again, the schedule is gone) and
by the notice the page shows."""

from __future__ import annotations

import re
from typing import Any

import httpx

from app.models import parse_rfc3339
from app.store import Store
from tests.web.conftest import Browser, Tenant, onboard

HOOK = "http://127.0.0.1:9/hook"


def _notice(html: str) -> str:
    found = re.search(r'<p class="notice" role="status">(.*?)</p>', html, re.S)
    assert found is not None, "the page shows no notice"
    return found.group(1)


async def _schedule(api: httpx.AsyncClient, t: Tenant, **extra: Any) -> str:
    body = {"name": "act", "cron": "0 0 1 1 *", "target": {"url": HOOK}, **extra}
    r = await api.post("/v1/schedules", json=body, headers=t.auth)
    assert r.status_code == 201, r.text
    sid: str = r.json()["id"]
    return sid


async def _fires(api: httpx.AsyncClient, t: Tenant, sid: str) -> list[dict[str, Any]]:
    r = await api.get(f"/v1/schedules/{sid}/fires", headers=t.auth)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_trigger_queues_a_fire_the_api_and_the_page_show(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant
) -> None:
    sid = await _schedule(api, tenant)
    page = await browser.get(f"/portal/schedules/{sid}")
    assert f'action="/portal/schedules/{sid}/trigger"' in page.text
    assert await _fires(api, tenant, sid) == []

    r = await browser.post(f"/portal/schedules/{sid}/trigger")

    assert r.status_code == 303
    assert r.headers["location"] == f"/portal/schedules/{sid}?done=triggered"
    fires = await _fires(api, tenant, sid)
    assert [(f["kind"], f["schedule_id"]) for f in fires] == [("manual", sid)]
    shown = await browser.get(r.headers["location"])
    assert _notice(shown.text) == "Fire queued: it is delivered now."
    assert fires[0]["id"] in shown.text  # the new fire is listed on the schedule's page


async def test_resume_makes_a_paused_schedule_active_again(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant
) -> None:
    sid = await _schedule(api, tenant, paused=True)
    before = (await api.get(f"/v1/schedules/{sid}", headers=tenant.auth)).json()
    assert before["paused"] is True and before["next_fire_at"] is None
    page = await browser.get(f"/portal/schedules/{sid}")
    assert f'action="/portal/schedules/{sid}/resume"' in page.text

    r = await browser.post(f"/portal/schedules/{sid}/resume")

    assert r.status_code == 303
    assert r.headers["location"] == f"/portal/schedules/{sid}?done=resumed"
    after = (await api.get(f"/v1/schedules/{sid}", headers=tenant.auth)).json()
    assert after["paused"] is False
    assert after["next_fire_at"] is not None  # back in the time index
    shown = await browser.get(r.headers["location"])
    assert _notice(shown.text) == "Schedule resumed."
    assert f'action="/portal/schedules/{sid}/pause"' in shown.text


async def test_delete_asks_first_then_removes_the_schedule(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant
) -> None:
    sid = await _schedule(api, tenant)
    kept = await _schedule(api, tenant, name="kept")
    browser.csrf = ""

    confirm = await browser.get(f"/portal/schedules/{sid}/delete")

    assert confirm.status_code == 200
    assert "Delete this schedule?" in confirm.text
    assert f'action="/portal/schedules/{sid}/delete"' in confirm.text
    assert browser.csrf, "the confirmation page carries the form's CSRF token"
    # opening the confirmation page deleted nothing
    assert (await api.get(f"/v1/schedules/{sid}", headers=tenant.auth)).status_code == 200

    r = await browser.post(f"/portal/schedules/{sid}/delete")

    assert r.status_code == 303
    assert r.headers["location"] == "/portal?done=deleted"
    gone = await api.get(f"/v1/schedules/{sid}", headers=tenant.auth)
    assert gone.status_code == 404
    assert (await api.get(f"/v1/schedules/{kept}", headers=tenant.auth)).status_code == 200
    listing = await browser.get(r.headers["location"])
    assert _notice(listing.text) == "Schedule deleted."
    assert sid not in listing.text and kept in listing.text
    assert (await browser.get(f"/portal/schedules/{sid}")).status_code == 404


async def test_a_one_off_message_is_sent_and_its_fire_exists(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant, store: Store
) -> None:
    form = await browser.get("/portal/messages")
    assert form.status_code == 200
    fields = {
        "target.url": HOOK,
        "target.method": "PUT",
        "target.headers": "X-Note: one-off",
        "target.body": '{"n": 7}',
        "delay_seconds": "120",
    }

    r = await browser.post("/portal/messages", fields)

    assert r.status_code == 303, r.text  # post/redirect/get: a reload does not send again
    assert r.headers["location"].startswith("/portal/messages?done=sent&fire=")
    shown = await browser.get(r.headers["location"])
    assert shown.status_code == 200
    notice = _notice(shown.text)
    found = re.search(r"Message queued as <code>([^<]+)</code> for ", notice)
    assert found is not None, notice
    fire = await api.get(f"/v1/fires/{found.group(1)}", headers=tenant.auth)
    assert fire.status_code == 200
    got = fire.json()
    assert got["kind"] == "message" and got["status"] == "scheduled"
    assert got["schedule_id"] is None
    delay_ms = parse_rfc3339(got["scheduled_at"]).timestamp() * 1000 - await store.now_ms()
    assert 110_000 < delay_ms <= 120_000
    stored = await store.fires.get(tenant.id, got["id"])  # the fire view shows no target
    assert stored is not None
    assert stored.target.method == "PUT" and stored.target.body == {"n": 7}
    assert stored.target.headers == {"X-Note": "one-off"}
    assert shown.text.count('value="http://127.0.0.1:9/hook"') == 0  # the form starts blank
    # a reload of the page the post led to shows the notice again and sends nothing
    again = await browser.get(r.headers["location"])
    assert _notice(again.text) == notice
    assert await _messages(api, tenant) == [got["id"]]


async def _messages(api: httpx.AsyncClient, t: Tenant) -> list[str]:
    r = await api.get("/v1/fires?kind=message", headers=t.auth)
    assert r.status_code == 200, r.text
    return [f["id"] for f in r.json()["items"]]


async def test_the_sent_notice_names_only_a_fire_of_the_signed_in_tenant(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant
) -> None:
    # given a message of another tenant
    other = await onboard(api, "other")
    body = {"target": {"url": HOOK}, "delay_seconds": 60}
    theirs = (await api.post("/v1/messages", json=body, headers=other.auth)).json()["id"]
    # when a link names it (or names no fire, or garbage) as the fire just sent
    for query in (f"&fire={theirs}", "", "&fire=fire_nope", "&fire=%3Cb%3E"):
        shown = await browser.get(f"/portal/messages?done=sent{query}")
        # then the page shows the plain notice and nothing of that fire
        assert shown.status_code == 200
        assert _notice(shown.text) == "Message queued."
        assert theirs not in shown.text


async def test_trigger_and_resume_of_another_tenants_schedule_do_nothing(
    api: httpx.AsyncClient, browser: Browser, tenant: Tenant
) -> None:
    other = await onboard(api, "b")
    sid = await _schedule(api, other, paused=True)
    await browser.get("/portal")

    answers = [
        await browser.post(f"/portal/schedules/{sid}/trigger"),
        await browser.post(f"/portal/schedules/{sid}/resume"),
    ]

    assert [r.status_code for r in answers] == [404, 404]
    assert await _fires(api, other, sid) == []
    assert (await api.get(f"/v1/schedules/{sid}", headers=other.auth)).json()["paused"] is True
