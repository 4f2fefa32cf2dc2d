"""The tenant portal in a real browser: sign-in by link, the schedule form with the API's
field error then a good cron, a delivery appearing live, replaying a dead letter, rotating
the secret, hostile tenant text, and a cross-tenant attempt."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import Server, shot, sign_in, submit, wait

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

XSS = '<script>window.__xss=1</script>"onmouseover="window.__xss=2" ' + "Ünïcödé-日本語-" * 9


def text(driver: WebDriver, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def schedule(server: Server, key: str, **body: Any) -> dict[str, Any]:
    with server.api() as c:
        r = c.post("/v1/schedules", json=body, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created


def test_a_link_signs_in_once_and_the_url_keeps_no_token(
    browser: WebDriver, server: Server
) -> None:
    tenant = server.tenant("signin")
    link = server.portal_link(tenant["id"])

    browser.get(link)

    assert browser.current_url == f"{server.base}/portal"
    assert text(browser, ".tenant-name") == "signin"
    shot(browser, "portal-signed-in")
    submit(browser, browser.find_element(By.XPATH, "//button[text()='Sign out']"))
    assert text(browser, "h1") == "Signed out"
    browser.get(f"{server.base}/portal")
    assert "Open a fresh sign-in link" in text(browser, "main")
    browser.get(link)
    assert "Link expired" in text(browser, "h1")
    shot(browser, "portal-link-used")


def test_the_schedule_form_shows_the_field_error_then_creates(
    browser: WebDriver, server: Server
) -> None:
    sign_in(browser, server, "form")
    browser.get(f"{server.base}/portal/schedules/new")
    browser.find_element(By.ID, "f-name").send_keys("nightly report")
    cron = browser.find_element(By.ID, "f-cron")
    cron.clear()
    cron.send_keys("61 * * * *")
    url = browser.find_element(By.ID, "f-target-url")
    url.clear()
    url.send_keys(f"{server.base}/_echo/form")
    # the live preview already says what is wrong, by the API's rule
    wait(browser, lambda d: "61" in text(d, "#cron-preview .words"))
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button.primary"))

    error = text(browser, ".field.has-error .field-error")
    assert browser.find_element(By.ID, "f-cron").get_attribute("aria-invalid") == "true"
    assert "61" in error
    shot(browser, "portal-form-cron-error")

    cron = browser.find_element(By.ID, "f-cron")
    cron.clear()
    cron.send_keys("0 9 * * MON-FRI")
    wait(browser, lambda d: text(d, "#cron-preview .words") == "at 09:00 on MON-FRI")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#cron-preview .next li")) == 5
    shot(browser, "portal-form-live-preview")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button.primary"))

    assert re.search(r"/portal/schedules/sch_\w+\?done=created$", browser.current_url)
    assert text(browser, ".notice") == "Schedule created."
    assert text(browser, "h1") == "nightly report"
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.list tbody tr")) >= 10
    shot(browser, "portal-schedule-created")


def test_a_delivery_appears_live(browser: WebDriver, server: Server) -> None:
    tenant = sign_in(browser, server, "live")
    s = schedule(
        server,
        tenant["api_key"],
        name="live",
        cron="0 0 1 1 *",
        target={"url": f"{server.base}/_echo/live", "body": {"hello": "live"}},
    )
    browser.get(f"{server.base}/portal/events")
    wait(
        browser, lambda d: d.find_element(By.ID, "feed-state").get_attribute("data-state") == "open"
    )

    with server.api() as c:
        r = c.post(
            f"/v1/schedules/{s['id']}/trigger",
            headers={"Authorization": f"Bearer {tenant['api_key']}"},
        )
        fire = r.json()["id"]

    row = f'tr[data-fire="{fire}"][data-type="fire.succeeded"]'
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row), seconds=15)
    assert "200" in text(browser, row)
    shot(browser, "portal-live-delivery")


def _dead_letter(server: Server, key: str) -> str:
    auth = {"Authorization": f"Bearer {key}"}
    body = {"target": {"url": "http://127.0.0.1:9/closed"}, "retry": {"max_attempts": 1}}
    with server.api() as c:
        fire: str = c.post("/v1/messages", json=body, headers=auth).json()["id"]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if c.get(f"/v1/fires/{fire}", headers=auth).json()["status"] == "failed":
                return fire
            time.sleep(0.1)
    raise AssertionError(f"{fire} did not fail")


def test_replaying_a_dead_letter(browser: WebDriver, server: Server) -> None:
    tenant = sign_in(browser, server, "dead")
    fire = _dead_letter(server, tenant["api_key"])
    browser.get(f"{server.base}/portal/dead-letters")
    assert fire in text(browser, "main")
    shot(browser, "portal-dead-letters")

    replay = f'form[action="/portal/fires/{fire}/replay"] button'
    submit(browser, browser.find_element(By.CSS_SELECTOR, replay))

    assert browser.current_url.endswith("/portal/dead-letters?done=replayed")
    assert text(browser, ".notice").startswith("Replay queued")
    with server.api() as c:
        auth = {"Authorization": f"Bearer {tenant['api_key']}"}
        deadline = time.monotonic() + 15
        while c.get(f"/v1/fires/{fire}", headers=auth).json()["attempt_count"] < 2:
            assert time.monotonic() < deadline, "the replay was not delivered"
            time.sleep(0.1)
    browser.refresh()
    assert "replay" in text(browser, f'form[action="/portal/fires/{fire}/replay"] + div')
    shot(browser, "portal-dead-letter-replayed")


def test_rotating_the_secret_shows_it_once(browser: WebDriver, server: Server) -> None:
    tenant = sign_in(browser, server, "rotate")
    browser.get(f"{server.base}/portal/signing-secret")
    submit(browser, browser.find_element(By.XPATH, "//button[text()='Rotate the signing secret']"))

    secret = text(browser, "#new-secret")
    assert secret.startswith("whsec_") and secret != tenant["signing_secret"]
    assert "?" not in browser.current_url
    shot(browser, "portal-secret-rotated")
    browser.get(f"{server.base}/portal/signing-secret")
    assert secret not in browser.page_source
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.list tbody tr")) == 2


def test_hostile_tenant_text_is_shown_as_text(browser: WebDriver, server: Server) -> None:
    tenant = sign_in(browser, server, XSS)
    s = schedule(
        server,
        tenant["api_key"],
        name=XSS,
        cron="*/5 * * * *",
        target={"url": f"{server.base}/_echo/x", "body": XSS, "headers": {"X-Note": XSS[:60]}},
    )
    for path in ("/portal", f"/portal/schedules/{s['id']}", f"/portal/schedules/{s['id']}/edit"):
        browser.get(f"{server.base}{path}")
        name = browser.find_element(By.CSS_SELECTOR, ".tenant-name")
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(browser).move_to_element(name).perform()
        assert browser.execute_script("return window.__xss === undefined")
        assert name.text == XSS.strip()
    assert browser.find_element(By.ID, "f-name").get_attribute("value") == XSS
    assert browser.find_element(By.ID, "f-target-body").get_attribute("value") == XSS
    shot(browser, "portal-xss-escaped")


def test_a_session_never_reaches_another_tenant(browser: WebDriver, server: Server) -> None:
    other = server.tenant("other")
    theirs = schedule(
        server,
        other["api_key"],
        name="their-private-schedule",
        cron="*/5 * * * *",
        target={"url": f"{server.base}/_echo/b"},
    )
    sign_in(browser, server, "mine")

    browser.get(f"{server.base}/portal/schedules/{theirs['id']}")
    assert text(browser, "h1") == "Not found"
    browser.get(f"{server.base}/portal")
    assert "their-private-schedule" not in browser.page_source
    shot(browser, "portal-cross-tenant")
