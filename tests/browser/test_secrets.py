"""No secret in the running process's log or in a URL, in a real browser: a portal link
opened, the portal's pages, the signing secret rotated, signed out; a console link opened,
a tenant onboarded, a support link made, signed out. Then none of the link tokens, session
cookies, CSRF tokens, API keys or signing secrets met on the way is in the `cronhook dev`
process's output (at DEBUG) or in any URL the browser was at or any page linked to."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import Server, submit

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

LINKS = """return Array.from(document.querySelectorAll('[href], [src], [action]'))
  .map(e => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action'));"""


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


class Walk:
    """The browser's walk: every URL it was at after sign-in and every link it was shown."""

    def __init__(self, driver: WebDriver, server: Server) -> None:
        self.driver, self.server = driver, server
        self.urls: list[str] = []

    def look(self) -> None:
        self.urls += [self.driver.current_url, *self.driver.execute_script(LINKS)]

    def go(self, path: str) -> None:
        self.driver.get(f"{self.server.base}{path}")
        self.look()

    def click(self, label: str) -> None:
        submit(self.driver, self.driver.find_element(By.XPATH, f"//button[text()='{label}']"))
        self.look()

    def sign_in(self, link: str, area: str) -> dict[str, str]:
        self.driver.get(link)
        assert self.driver.current_url == f"{self.server.base}/{area}"
        self.look()
        cookie = self.driver.get_cookie(f"cronhook_{area}")
        assert cookie is not None and cookie["httpOnly"]
        csrf = self.driver.find_element(By.CSS_SELECTOR, "input[name=csrf]")
        return {
            f"{area} link token": _token(link),
            f"{area} cookie": cookie["value"],
            f"{area} CSRF token": str(csrf.get_attribute("value")),
        }

    def shown(self, element_id: str) -> str:
        return str(self.driver.find_element(By.ID, element_id).text)


def test_no_secret_in_the_process_log_or_a_url(browser: WebDriver, server: Server) -> None:
    tenant = server.tenant("quiet")
    found = {"API key": tenant["api_key"], "signing secret": tenant["signing_secret"]}
    walk = Walk(browser, server)

    found |= walk.sign_in(server.portal_link(tenant["id"]), "portal")
    for path in ("/portal/messages", "/portal/events", "/portal/signing-secret"):
        walk.go(path)
    walk.click("Rotate the signing secret")
    found["rotated secret"] = walk.shown("new-secret")
    walk.click("Sign out")

    found |= walk.sign_in(server.console_link(), "console")
    walk.go("/console/tenants/new")
    browser.find_element(By.ID, "f-name").send_keys("handed over")
    walk.click("Onboard")
    found["onboarded API key"] = walk.shown("new-api-key")
    found["onboarded signing secret"] = walk.shown("new-signing-secret")
    walk.go("/console")
    form = f'form[action="/console/tenants/{tenant["id"]}/portal-link"] button'
    submit(browser, browser.find_element(By.CSS_SELECTOR, form))
    walk.look()
    found["support link token"] = _token(walk.shown("portal-link"))
    walk.click("Sign out")

    assert all(len(v) >= 16 for v in found.values()), found
    assert len(set(found.values())) == len(found)
    assert len(walk.urls) > 30
    output = server.output()
    assert "cronhook dev is running" in output  # the process's own output, at DEBUG
    in_log = [what for what, value in found.items() if value in output]
    in_urls = [(what, u) for what, value in found.items() for u in walk.urls if value in u]
    assert in_log == [] and in_urls == []
