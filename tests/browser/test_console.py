"""The operator console in a real browser: the tenant list with quotas and usage,
onboarding (key and secret shown once), a support link into a tenant's portal, the fleet
live and the forecast across tenants."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import Server, shot, submit, wait

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_the_console_lists_tenants_and_onboards_one(browser: WebDriver, server: Server) -> None:
    listed = server.tenant("listed-tenant")
    browser.get(server.console_link())
    assert browser.current_url == f"{server.base}/console"

    rows = browser.find_elements(By.CSS_SELECTOR, "table.list tbody tr")
    mine = [r for r in rows if listed["id"] in r.text]
    assert len(mine) == 1 and "listed-tenant" in mine[0].text
    assert "0 / " in mine[0].text  # schedules used of the quota
    shot(browser, "console-tenants")

    browser.get(f"{server.base}/console/tenants/new")
    browser.find_element(By.ID, "f-name").send_keys("acme corp")
    browser.find_element(By.ID, "f-max_schedules").send_keys("25")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button.primary"))

    key = browser.find_element(By.ID, "new-api-key").text
    secret = browser.find_element(By.ID, "new-signing-secret").text
    assert key.startswith("chk_") and secret.startswith("whsec_")
    shot(browser, "console-onboarded")
    browser.get(f"{server.base}/console")
    assert key not in browser.page_source and secret not in browser.page_source
    acme = [r for r in browser.find_elements(By.CSS_SELECTOR, "tbody tr") if "acme corp" in r.text]
    assert len(acme) == 1 and "0 / 25" in acme[0].text


def test_onboarding_shows_the_apis_field_error(browser: WebDriver, server: Server) -> None:
    browser.get(server.console_link())
    browser.get(f"{server.base}/console/tenants/new")
    browser.find_element(By.ID, "f-name").send_keys("too many")
    browser.find_element(By.ID, "f-max_schedules").send_keys("-3")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button.primary"))

    error = browser.find_element(By.CSS_SELECTOR, ".has-error .field-error").text
    assert "must be at least 0" in error  # the API's own words for limits.max_schedules
    assert not browser.find_elements(By.ID, "new-api-key")


def test_a_support_link_opens_the_tenants_portal(browser: WebDriver, server: Server) -> None:
    tenant = server.tenant("supported")
    browser.get(server.console_link())
    form = f'form[action="/console/tenants/{tenant["id"]}/portal-link"] button'
    submit(browser, browser.find_element(By.CSS_SELECTOR, form))
    link = browser.find_element(By.ID, "portal-link").text
    shot(browser, "console-portal-link")

    browser.get(link)

    assert browser.current_url == f"{server.base}/portal"
    assert browser.find_element(By.CSS_SELECTOR, ".tenant-name").text == "supported"


def test_the_fleet_is_live_and_the_forecast_drawn(browser: WebDriver, server: Server) -> None:
    browser.get(server.console_link())
    browser.get(f"{server.base}/console/fleet")
    assert browser.find_elements(By.CSS_SELECTOR, "#fleet table")
    before = browser.find_element(By.CSS_SELECTOR, "#fleet p").text
    # the section refreshes itself from the server every few seconds
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#fleet p").text != before, 8)
    wait(browser, lambda d: "live invokers" in d.find_element(By.CSS_SELECTOR, "#fleet p").text)
    shot(browser, "console-fleet")

    browser.get(f"{server.base}/console/forecast")
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    shot(browser, "console-forecast")
