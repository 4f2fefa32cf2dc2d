"""Every page at 375 px (a phone) and 1440 px (a desktop): nothing wider than the screen,
a screenshot of each; and the keyboard alone reaches every link, button and field, and
an action runs from the keyboard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import NARROW, WIDE, Server, gone, shot, sign_in, wait, width

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PORTAL = (
    "/portal",
    "/portal/schedules/{sid}",
    "/portal/schedules/new",
    "/portal/schedules/{sid}/edit",
    "/portal/schedules/{sid}/delete",
    "/portal/dead-letters",
    "/portal/messages",
    "/portal/signing-secret",
    "/portal/events",
    "/portal/forecast",
)
CONSOLE = ("/console", "/console/tenants/new", "/console/fleet", "/console/forecast")

# Every element a person acts on gets a number; tabbing must reach every number.
MARK = """
const all = Array.from(document.querySelectorAll(
  'a[href], button, input:not([type=hidden]), select, textarea'));
const shown = all.filter(e => !e.disabled && e.getClientRects().length > 0);
shown.forEach((e, i) => e.dataset.kb = String(i));
document.activeElement && document.activeElement.blur();
return shown.length;
"""


@pytest.fixture(scope="module")
def portal(chrome: WebDriver, server: Server) -> Iterator[tuple[WebDriver, dict[str, str]]]:
    """One tenant with a long-named schedule, some fires and a dead letter."""
    chrome.delete_all_cookies()
    tenant = sign_in(chrome, server, "Layout GmbH — Ünïcödé 日本語 tenant with a long name")
    auth = {"Authorization": f"Bearer {tenant['api_key']}"}
    with server.api() as c:
        body = {
            "name": "a-very-long-schedule-name-" + "x" * 80,
            "cron": "*/30 * * * * *",
            "timezone": "Europe/Berlin",
            "target": {"url": f"{server.base}/_echo/layout", "body": {"k": "v" * 300}},
        }
        sid = c.post("/v1/schedules", json=body, headers=auth).json()["id"]
        c.post(f"/v1/schedules/{sid}/trigger", headers=auth)
        dead = {"target": {"url": "http://127.0.0.1:9/x"}, "retry": {"max_attempts": 1}}
        c.post("/v1/messages", json=dead, headers=auth)
    yield chrome, {"sid": sid}
    chrome.delete_all_cookies()


def _fits(driver: WebDriver) -> tuple[int, int]:
    got = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    return int(got[0]), int(got[1])


def _every_action_is_reached_by_tab(driver: WebDriver) -> None:
    count = driver.execute_script(MARK)
    reached: set[str] = set()
    for _ in range(count + 3):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        kb = driver.execute_script("return document.activeElement.dataset.kb || null")
        if kb is not None:
            reached.add(kb)
    missing = sorted(set(map(str, range(count))) - reached, key=int)
    labels = [
        driver.execute_script(f"return document.querySelector('[data-kb=\"{i}\"]').outerHTML")[:80]
        for i in missing
    ]
    assert not missing, f"{driver.current_url}: not reachable by Tab: {labels}"


@pytest.mark.parametrize("path", PORTAL)
def test_portal_pages_fit_both_widths_and_tab_reaches_every_action(
    portal: tuple[WebDriver, dict[str, str]], server: Server, path: str
) -> None:
    driver, ids = portal
    url = server.base + path.format(**ids)
    name = path.strip("/").replace("/", "-").replace("{sid}", "schedule")
    for pixels in (NARROW, WIDE):
        width(driver, pixels)
        driver.get(url)
        scroll, inner = _fits(driver)
        assert scroll <= inner, f"{path} at {pixels}px is {scroll}px wide"
        shot(driver, f"layout-{name}-{pixels}")
    _every_action_is_reached_by_tab(driver)


@pytest.mark.parametrize("path", CONSOLE)
def test_console_pages_fit_both_widths_and_tab_reaches_every_action(
    chrome: WebDriver, server: Server, path: str
) -> None:
    chrome.get(server.console_link())  # beside the portal's session (another cookie path)
    name = path.strip("/").replace("/", "-")
    for pixels in (NARROW, WIDE):
        width(chrome, pixels)
        chrome.get(server.base + path)
        scroll, inner = _fits(chrome)
        assert scroll <= inner, f"{path} at {pixels}px is {scroll}px wide"
        shot(chrome, f"layout-{name}-{pixels}")
    _every_action_is_reached_by_tab(chrome)


def test_an_action_runs_from_the_keyboard(
    portal: tuple[WebDriver, dict[str, str]], server: Server
) -> None:
    driver, ids = portal
    width(driver, NARROW)
    driver.get(f"{server.base}/portal/schedules/{ids['sid']}")
    driver.execute_script("document.activeElement && document.activeElement.blur()")
    focused = ""
    for _ in range(40):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        focused = driver.execute_script("return document.activeElement.textContent")
        if focused == "Pause":
            break
    assert focused == "Pause"
    old = driver.find_element(By.TAG_NAME, "html")
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    wait(driver, lambda _: gone(old))

    assert driver.find_element(By.CSS_SELECTOR, ".notice").text == "Schedule paused."
    shot(driver, "keyboard-paused-375")
    driver.get(f"{server.base}/portal/schedules/{ids['sid']}")
    assert driver.find_elements(By.XPATH, "//button[text()='Resume']")
