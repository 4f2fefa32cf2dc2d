"""The same flow on `cronhook dev`: one process, embedded store and bus."""

from __future__ import annotations

import asyncio
import re
import secrets

import httpx
import pytest

from tests.e2e.flow import check_delivery, check_fires_via_api, every_second, onboard
from tests.e2e.procs import base_env, fleet, wait_http
from tests.receiver import Receiver

pytestmark = [pytest.mark.e2e]


async def test_cronhook_dev_delivers_signed_webhooks_on_embedded_backends(free_port: int) -> None:
    token = secrets.token_urlsafe(16)
    env = base_env(CRONHOOK_ADMIN_TOKEN=token, CRONHOOK_LOG_FORMAT="console")
    base = f"http://127.0.0.1:{free_port}"
    async with fleet(env) as f, Receiver() as rx, httpx.AsyncClient(base_url=base) as api:
        dev = f.start("dev", "--port", str(free_port))
        await wait_http(f"{base}/healthz", proc=dev)
        # the banner names the demo tenant's key, and the admin token it was given
        await asyncio.sleep(0.3)
        banner = dev.output()
        assert token in banner
        demo_key = re.search(r"API key\s+(chk_\S+)", banner)
        assert demo_key, banner
        r = await api.get("/v1/schedules", headers={"Authorization": f"Bearer {demo_key[1]}"})
        assert r.status_code == 200, r.text
        # and a link that signs a browser into the demo tenant's portal
        portal = re.search(r"portal\s+(http://\S+/portal/sign-in\?token=\S+)", banner)
        assert portal, banner
        async with httpx.AsyncClient(follow_redirects=True) as browser:
            page = await browser.get(portal[1])
        assert page.status_code == 200 and page.url.path == "/portal"
        assert '<span class="tenant-name"' in page.text and ">demo</span>" in page.text

        # the same flow as on the real services
        tenant = await onboard(api, token)
        schedule = await every_second(api, tenant["api_key"], rx.url("/hook"))
        hits = await rx.wait_for(3, path="/hook", within=15)
        for h in hits:
            check_delivery(h, tenant["signing_secret"], schedule["id"])
        await asyncio.sleep(0.5)
        await check_fires_via_api(
            api, tenant["api_key"], schedule["id"], {h.headers["webhook-id"] for h in hits}
        )

        # and the built-in echo receiver verifies what it gets
        r = await api.post(
            "/v1/schedules",
            headers={"Authorization": f"Bearer {demo_key[1]}"},
            json={
                "name": "echo",
                "cron": "* * * * * *",
                "target": {"url": f"{base}/_echo/demo", "body": {"a": 1}},
            },
        )
        assert r.status_code == 201, r.text

        async def echoed() -> list[dict[str, str]]:
            items: list[dict[str, str]] = (await api.get("/_echo")).json()["items"]
            return [i for i in items if i["path"] == "/_echo/demo"]

        for _ in range(100):
            if await echoed():
                break
            await asyncio.sleep(0.1)
        got = await echoed()
        assert got and all(i["signature"] == "valid" for i in got), got
