"""A real headless Chromium (Debian's, through its chromedriver; nothing is downloaded)
against a `cronhook dev` process: the API, dispatcher, invoker and echo receiver on the
embedded backends. One browser and one server for the whole session; every test signs in
with its own tenant. Screenshots go to .tmp/browser/ (gitignored), as test artifacts."""

from __future__ import annotations

import contextlib
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import IN_CI
from tests.e2e.procs import ROOT, base_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = ROOT / ".tmp" / "browser"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1440,900",
)
WIDE, NARROW = 1440, 375


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    base: str
    admin: dict[str, str]
    log: Path  # everything the process wrote, at DEBUG

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=10)

    def tenant(self, name: str) -> dict[str, Any]:
        with self.api() as c:
            r = c.post("/v1/tenants", json={"name": name}, headers=self.admin)
            assert r.status_code == 201, r.text
            created: dict[str, Any] = r.json()
            return created

    def portal_link(self, tenant_id: str, **body: Any) -> str:
        with self.api() as c:
            r = c.post(f"/v1/tenants/{tenant_id}/portal-links", json=body, headers=self.admin)
            assert r.status_code == 201, r.text
            url: str = r.json()["url"]
            return url

    def console_link(self) -> str:
        with self.api() as c:
            r = c.post("/v1/admin/console-links", json={}, headers=self.admin)
            assert r.status_code == 201, r.text
            url: str = r.json()["url"]
            return url


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    port, token = _free_port(), secrets.token_urlsafe(16)
    env = base_env(
        CRONHOOK_ADMIN_TOKEN=token, CRONHOOK_LOG_FORMAT="console", CRONHOOK_LOG_LEVEL="DEBUG"
    )
    log = Path(tempfile.mkdtemp(prefix="cronhook-browser-")) / "dev.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "dev", "--port", str(port)],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc, log)
        yield Server(base, {"Authorization": f"Bearer {token}"}, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"cronhook dev exited:\n{log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"cronhook dev did not answer in 30 s:\n{log.read_text(errors='replace')[-3000:]}")


def _need_browser() -> None:
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    message = f"{CHROMIUM} or {CHROMEDRIVER} is missing (scripts/browsers installs them)"
    if IN_CI:
        pytest.fail(f"{message} (CI: a missing browser is a failure)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def chrome() -> Iterator[WebDriver]:
    _need_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="cronhook-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chrome: WebDriver) -> Iterator[WebDriver]:
    """The session's browser, without cookies, at the wide width."""
    chrome.delete_all_cookies()
    width(chrome, WIDE)
    yield chrome
    chrome.delete_all_cookies()


def width(driver: WebDriver, pixels: int) -> None:
    """Emulate a viewport exactly ``pixels`` wide (a phone at 375, a desktop at 1440)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": pixels, "height": 900, "deviceScaleFactor": 1, "mobile": pixels < 600},
    )


def shot(driver: WebDriver, name: str) -> Path:
    """A full-height screenshot saved as a test artifact."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    w = driver.execute_script("return window.innerWidth")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": w, "height": min(int(height), 4000), "deviceScaleFactor": 1, "mobile": w < 600},
    )
    driver.save_screenshot(str(path))
    width(driver, w)
    return path


def wait(driver: WebDriver, condition: Callable[[WebDriver], Any], seconds: float = 10) -> Any:
    """Poll ``condition`` until it holds. Live parts of a page (the fleet, the feed) replace
    their elements as they refresh, so an element found in one poll may be gone by the
    next read: that poll is retried, like one that found nothing."""
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, seconds, poll_frequency=0.05, ignored_exceptions=ignored).until(
        condition
    )


def gone(element: WebElement) -> bool:
    """Whether ``element`` left the document: Selenium's staleness error, or Chromium's own
    word for it during a navigation ("Node with given id does not belong to the document")."""
    try:
        return bool(staleness_of(element)(None))
    except WebDriverException as e:
        if "does not belong to the document" in str(e):
            return True
        raise


def submit(driver: WebDriver, button: WebElement) -> None:
    """Click a button that loads a new page, and wait for that page."""
    old = driver.find_element(By.TAG_NAME, "html")
    button.click()
    wait(driver, lambda _: gone(old))
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def sign_in(driver: WebDriver, server: Server, name: str, **link: Any) -> dict[str, Any]:
    """A fresh tenant, signed in to its portal by a link; returns the tenant."""
    tenant = server.tenant(name)
    driver.get(server.portal_link(tenant["id"], **link))
    assert driver.current_url == f"{server.base}/portal"
    return tenant
