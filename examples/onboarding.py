"""Onboarding a SaaS tenant with the cronhook SDK.

Two parties, one script:

1. The operator (holding the admin token) onboards a customer: `AdminClient` creates the
   tenant with its quotas and gets back its API key and signing secret, shown only once.
2. The operator hands those two strings to the customer. From here on the customer's own
   code uses nothing else: `AsyncClient(api_key=...)` creates its schedules, reads its fires
   and, in its receiver, verifies deliveries with `Webhook(signing_secret)`.

Run it against `cronhook dev` (from the repository root, in a venv with `pip install ./sdk`;
`./scripts/dev` gives you one):

    CRONHOOK_ADMIN_TOKEN=dev-admin cronhook dev          # terminal 1
    CRONHOOK_ADMIN_TOKEN=dev-admin python examples/onboarding.py   # terminal 2

Environment:
    CRONHOOK_URL            the API, default http://127.0.0.1:8080
    CRONHOOK_ADMIN_TOKEN    required: the operator's admin token
    ONBOARDING_TARGET       where the heartbeat goes; default the dev echo receiver
                            ($CRONHOOK_URL/_echo/heartbeat), which verifies signatures. Point
                            it at examples/python_receiver.py (started with the secret this
                            script prints) to verify with the SDK yourself.
    ONBOARDING_WAIT         seconds to let the heartbeat fire, default 5
    ONBOARDING_KEEP=1       keep the schedules (and print the credentials) instead of
                            removing the tenant's schedules at the end
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

from cronhook import AdminClient, AsyncClient, RetrySettings, Schedule, Target


@dataclass(frozen=True)
class Credentials:
    """What the operator hands to the customer: all its code ever needs."""

    tenant_id: str
    api_key: str
    signing_secret: str


# -- 1. the operator ---------------------------------------------------------------------------


def onboard(admin: AdminClient, customer: str) -> Credentials:
    """Create the customer's tenant with its quotas; the key and secret are shown once."""
    tenant = admin.tenants.create(
        customer,
        limits={"max_schedules": 100, "min_interval_seconds": 1, "allowed_private_targets": True},
        metadata={"plan": "starter", "crm_id": "cus_0042"},
    )
    quota = tenant.limits.max_schedules
    print(f"operator: onboarded {tenant.name!r} as {tenant.id} (at most {quota} schedules)")
    return Credentials(tenant.id, tenant.api_key, tenant.signing_secret)


# -- 2. the customer's code (only the credentials from here on) --------------------------------


async def set_up_schedules(client: AsyncClient, heartbeat_url: str) -> list[Schedule]:
    """A heartbeat every 2 seconds, and a nightly report in the customer's own time zone."""
    heartbeat = await client.schedules.create(
        "heartbeat",
        "*/2 * * * * *",  # 6 fields: seconds first
        Target(heartbeat_url, body={"check": "alive"}),
        retry=RetrySettings(max_attempts=3, min_backoff_seconds=1),
    )
    report = await client.schedules.create(
        "nightly-report",
        "0 30 2 * * *",  # 02:30:00 every day, on the Berlin wall clock (DST handled)
        Target(heartbeat_url.replace("heartbeat", "report"), body={"report": "nightly"}),
        timezone="Europe/Berlin",
        metadata={"owner": "billing"},
    )
    for s in (heartbeat, report):
        print(f"customer: created {s.name!r} ({s.cron}, {s.timezone}), next fire {s.next_fire_at}")
    return [heartbeat, report]


async def report_fires(client: AsyncClient, schedule: Schedule) -> int:
    """Print the schedule's fires (newest first, every page) and count the delivered ones."""
    delivered = 0
    async for fire in client.schedules.fires(schedule.id, limit=50):
        last = fire.attempts[-1] if fire.attempts else None
        code = last.status_code if last else None
        print(
            f"customer: fire {fire.id} at {fire.scheduled_at:%H:%M:%S} {fire.status} (HTTP {code})"
        )
        delivered += fire.status == "succeeded"
    return delivered


async def customer(base_url: str, credentials: Credentials, target: str, wait: float) -> int:
    async with AsyncClient(base_url, credentials.api_key) as client:
        schedules = await set_up_schedules(client, target)
        print(f"customer: waiting {wait:g}s for the heartbeat")
        await asyncio.sleep(wait)
        delivered = await report_fires(client, schedules[0])
        listed = [s.name async for s in client.schedules.list()]
        print(f"customer: my schedules are {listed}; {delivered} heartbeat(s) delivered")
        if os.environ.get("ONBOARDING_KEEP") != "1":
            for s in schedules:
                await client.schedules.delete(s.id)
            print("customer: removed my schedules")
    return delivered


def main() -> int:
    base_url = os.environ.get("CRONHOOK_URL", "http://127.0.0.1:8080").rstrip("/")
    token = os.environ.get("CRONHOOK_ADMIN_TOKEN")
    if not token:
        sys.exit("set CRONHOOK_ADMIN_TOKEN to the operator's admin token (cronhook dev prints it)")
    target = os.environ.get("ONBOARDING_TARGET", f"{base_url}/_echo/heartbeat")
    wait = float(os.environ.get("ONBOARDING_WAIT", "5"))

    with AdminClient(base_url, token) as admin:
        credentials = onboard(admin, "acme-corp")
    if os.environ.get("ONBOARDING_KEEP") == "1":
        print(
            f"  api key        {credentials.api_key}\n  signing secret {credentials.signing_secret}"
        )

    delivered = asyncio.run(customer(base_url, credentials, target, wait))
    return 0 if delivered > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
