"""Schemathesis against a live ``cronhook api`` on the real services, from openapi.yaml: no
5xx, every response as the contract says (status, media type, schema, headers), invalid
input rejected. Path ids are drawn from real resources half of the time, so handlers run
past their 404s. A bounded run in CI; the marked slow run generates many more cases."""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from tests.api.live import REPORTS, Live, live_api
from tests.e2e.procs import ROOT

pytestmark = [pytest.mark.external_service]

CI_EXAMPLES = 25
SLOW_EXAMPLES = 400
# Domain rules beyond the schema (cron syntax, zone names, URL and header rules, quotas)
# answer 422 to schema-valid input; everything else valid must be accepted.
ACCEPTED = ["2xx", "401", "403", "404", "409", "422", "429"]


SEEN: Counter[tuple[str, str, int]] = Counter()  # (mode, operation, status) -> cases


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with live_api() as lv:
        yield lv
    _report()


def _report() -> None:
    """Summarise what was sent and answered (printed at the end of the pytest run)."""
    if not SEEN:
        return
    by_status: Counter[int] = Counter()
    by_mode: Counter[str] = Counter()
    for (mode, _, status), n in SEEN.items():
        by_status[status] += n
        by_mode[mode] += n
    ops = len({op for _, op, _ in SEEN})
    line = (
        f"schemathesis: {sum(SEEN.values())} cases over {ops} method+path pairs; "
        f"modes {dict(sorted(by_mode.items()))}; statuses {dict(sorted(by_status.items()))}"
    )
    REPORTS.append(line)
    SEEN.clear()


CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
        # requests drops a None-valued extra query parameter, so schemathesis would flag
        # the (valid) request that is actually sent; unknown parameters are refused, and
        # tested, in test_schedules.py
        "generation": {"database": "none", "allow-extra-parameters": False},
    }
)
schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml", config=CONFIG).exclude(
    operation_id="streamEvents"
)


def _real_ids(case: Any, live: Live) -> None:
    """Half of the cases (by a stable hash) address real resources instead of random ids."""
    params = case.path_parameters or {}
    path = case.meta.components.get("path") if case.meta else None
    if path is not None and path.mode.is_negative:
        return  # an invalid id stays invalid
    if zlib.crc32(repr(sorted(params.items())).encode()) % 2:
        return
    for name in params:
        if name in live.ids:
            ids = live.ids[name]
            params[name] = ids[zlib.crc32(repr(case.body).encode()) % len(ids)]


def _call(case: Any, live: Live) -> None:
    _real_ids(case, live)
    response = case.call_and_validate(base_url=live.base, headers=live.auth_for(case.path))
    mode = case.meta.generation.mode.value if case.meta else "explicit"
    SEEN[(mode, f"{case.method} {case.path}", response.status_code)] += 1


SETTINGS = {
    "deadline": None,
    "suppress_health_check": list(hypothesis.HealthCheck),
    "derandomize": True,
}


@schema.parametrize()
@hypothesis.settings(max_examples=CI_EXAMPLES, **SETTINGS)  # type: ignore[arg-type]
def test_the_live_api_keeps_its_contract(case: Any, live: Live) -> None:
    _call(case, live)


@pytest.mark.slow
@schema.parametrize()
@hypothesis.settings(max_examples=SLOW_EXAMPLES, **SETTINGS)  # type: ignore[arg-type]
def test_the_live_api_keeps_its_contract_long_run(case: Any, live: Live) -> None:
    _call(case, live)
