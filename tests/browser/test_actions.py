"""The portal's actions clicked in a real browser against the running pipeline: trigger
(the fire is delivered), pause then resume (active again), delete through its
confirmation page (the schedule is gone), and a one-off message (its fire is delivered).
Each is checked through the API and by the notice the page shows."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import Server, shot, sign_in, submit

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _button(driver: WebDriver, label: str) -> Any:
    return driver.find_element(By.XPATH, f"//button[text()='{label}']")


def _notice(driver: WebDriver) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, "p.notice").text)


def _succeeded(server: Server, auth: dict[str, str], fire: str) -> dict[str, Any]:
    with server.api() as c:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            got: dict[str, Any] = c.get(f"/v1/fires/{fire}", headers=auth).json()
            if got["status"] == "succeeded":
                return got
            time.sleep(0.1)
    raise AssertionError(f"{fire} was not delivered: {got}")


def test_trigger_pause_resume_and_delete_from_the_schedule_page(
    browser: WebDriver, server: Server
) -> None:
    tenant = sign_in(browser, server, "actions")
    auth = {"Authorization": f"Bearer {tenant['api_key']}"}
    body = {"name": "acted on", "cron": "0 0 1 1 *", "target": {"url": f"{server.base}/_echo/a"}}
    with server.api() as c:
        sid = c.post("/v1/schedules", json=body, headers=auth).json()["id"]
    page = f"{server.base}/portal/schedules/{sid}"
    browser.get(page)

    submit(browser, _button(browser, "Trigger now"))
    assert browser.current_url == f"{page}?done=triggered"
    assert _notice(browser) == "Fire queued: it is delivered now."
    with server.api() as c:
        fires = c.get(f"/v1/schedules/{sid}/fires", headers=auth).json()["items"]
    assert [f["kind"] for f in fires] == ["manual"]
    assert _succeeded(server, auth, fires[0]["id"])["attempts"][0]["status_code"] == 200
    shot(browser, "portal-action-triggered")

    submit(browser, _button(browser, "Pause"))
    assert _notice(browser) == "Schedule paused."
    submit(browser, _button(browser, "Resume"))
    assert browser.current_url == f"{page}?done=resumed"
    assert _notice(browser) == "Schedule resumed."
    with server.api() as c:
        s = c.get(f"/v1/schedules/{sid}", headers=auth).json()
    assert s["paused"] is False and s["next_fire_at"] is not None
    shot(browser, "portal-action-resumed")

    browser.find_element(By.LINK_TEXT, "Delete…").click()
    assert browser.current_url == f"{page}/delete"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Delete this schedule?"
    with server.api() as c:  # the confirmation page alone deletes nothing
        assert c.get(f"/v1/schedules/{sid}", headers=auth).status_code == 200
    shot(browser, "portal-action-confirm-delete")
    submit(browser, _button(browser, "Delete for good"))
    assert browser.current_url == f"{server.base}/portal?done=deleted"
    assert _notice(browser) == "Schedule deleted."
    assert "acted on" not in browser.find_element(By.TAG_NAME, "main").text
    with server.api() as c:
        assert c.get(f"/v1/schedules/{sid}", headers=auth).status_code == 404


def test_a_one_off_message_sent_from_the_page_is_delivered(
    browser: WebDriver, server: Server
) -> None:
    tenant = sign_in(browser, server, "message")
    auth = {"Authorization": f"Bearer {tenant['api_key']}"}
    browser.get(f"{server.base}/portal/messages")
    url = browser.find_element(By.ID, "f-target-url")
    url.clear()
    url.send_keys(f"{server.base}/_echo/one-off")
    browser.find_element(By.ID, "f-target-body").send_keys('{"once": true}')

    submit(browser, _button(browser, "Send"))

    notice = _notice(browser)
    found = re.match(r"Message queued as (fire_\w+) for ", notice)
    assert found is not None, notice
    got = _succeeded(server, auth, found.group(1))
    assert got["kind"] == "message" and got["attempts"][0]["status_code"] == 200
    shot(browser, "portal-action-message-sent")
