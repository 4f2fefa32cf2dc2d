"""A long job's progress on the schedule page in a real browser: a loopback endpoint answers
202, the job reports progress with the token it was given, and the page shows the bar, the
percent and the message (hostile text as text)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import Server, shot, sign_in
from tests.browser.test_portal import XSS, schedule, text

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def job_endpoint() -> Iterator[tuple[str, queue.Queue[dict[str, str]]]]:
    """A job endpoint on loopback: answers 202 and hands over the job headers it got."""
    got: queue.Queue[dict[str, str]] = queue.Queue()

    class Accept(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            got.put({k.lower(): v for k, v in self.headers.items()})
            self.send_response(202)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Accept)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/job", got
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_a_jobs_progress_shows_on_the_schedule_page(
    browser: WebDriver, server: Server, job_endpoint: tuple[str, queue.Queue[dict[str, str]]]
) -> None:
    url, got = job_endpoint
    tenant = sign_in(browser, server, "job")
    auth = {"Authorization": f"Bearer {tenant['api_key']}"}
    target = {"url": url, "job": {"timeout_seconds": 600, "heartbeat_seconds": 300}}
    s = schedule(server, tenant["api_key"], name="report", cron="0 0 1 1 *", target=target)
    with server.api() as c:
        fire = c.post(f"/v1/schedules/{s['id']}/trigger", headers=auth).json()["id"]
        headers = got.get(timeout=15)
        job = {"Authorization": f"Bearer {headers['cronhook-job-token']}"}
        path = urlsplit(headers["cronhook-job-url"]).path
        assert path == f"/v1/fires/{fire}/job"
        deadline = time.monotonic() + 15
        while c.get(f"/v1/fires/{fire}", headers=auth).json()["status"] != "running":
            assert time.monotonic() < deadline, "the 202 did not make the fire running"
            time.sleep(0.05)
        r = c.post(f"{path}/progress", json={"percent": 37, "message": XSS}, headers=job)
        assert r.status_code == 200, r.text

    browser.get(f"{server.base}/portal/schedules/{s['id']}")
    bar = browser.find_element(By.CSS_SELECTOR, "section.fire .job progress")
    assert bar.get_attribute("value") == "37" and bar.get_attribute("max") == "100"
    assert text(browser, "section.fire .job .percent") == "37 %"
    assert text(browser, "section.fire .job .message") == XSS.strip()
    assert text(browser, "section.fire .status.running") == "running"
    assert browser.execute_script("return window.__xss") is None
    shot(browser, "portal-job-progress")
