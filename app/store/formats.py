"""How tenant and schedule records are stored: versioned JSON, read tolerantly.

Every record carries its format version ``v`` (a record without one is version 1, the
format before versions were written). A schedule record leaves out the fields equal to
the defaults *of its version*, kept here as written (``SCHEDULE_DEFAULTS``), not taken from
the dataclasses: changing a default of the domain does not change what a stored schedule
means. Such a change adds a version with its own table (tests/unit/test_formats.py fails
until the current table matches the dataclasses again). A record of a version newer than
this release knows (a rolling deploy) is read with the newest table known here.

Readers ignore the keys they do not know (a field added by a newer release), here and in
``app.models``' ``from_json``/``from_record``. Fire records (Redis hashes) carry their own
version in the field ``v`` (``app.models.FIRE_RECORD_VERSION``) and store their target and
retry settings whole, so they need no table of defaults.
"""

from __future__ import annotations

import json
from typing import Any

from app.models import Schedule, Tenant

RECORD_VERSION = 1

SCHEDULE_DEFAULTS: dict[int, dict[str, Any]] = {
    1: {
        "target": {
            "method": "POST",
            "headers": {},
            "body": None,
            "content_type": None,
            "timeout_seconds": 30.0,
            "job": None,  # added with long jobs: a record without it was never a job
        },
        "retry": {
            "max_attempts": 8,
            "min_backoff_seconds": 5.0,
            "max_backoff_seconds": 36_000.0,
            "max_retry_seconds": 86_400.0,
            "retry_on_4xx": True,
        },
        "version": 1,
        "paused": False,
        "start_at": None,
        "end_at": None,
        "misfire": {"policy": "fire_once", "grace_seconds": 300.0},
        "overlap": "allow",
        "metadata": {},
        "paused_reason": None,
        "callback_url": None,
        "failure_callback_url": None,
        "fanout": None,  # added with fan-out: a record without it never fanned out
    },
}
_NESTED = ("target", "retry", "misfire")


def _pinned(version: Any) -> dict[str, Any]:
    table = SCHEDULE_DEFAULTS.get(version) if isinstance(version, int) else None
    return table if table is not None else SCHEDULE_DEFAULTS[max(SCHEDULE_DEFAULTS)]


def dump_schedule(s: Schedule) -> str:
    """The stored text of a schedule: what differs from this version's defaults (a typical
    schedule stores ~290 bytes instead of ~700: the record is most of its Redis cost)."""
    pinned = SCHEDULE_DEFAULTS[RECORD_VERSION]
    out: dict[str, Any] = {"v": RECORD_VERSION}
    for name, value in s.to_json().items():
        if name in _NESTED:
            default = pinned[name]
            out[name] = {k: v for k, v in value.items() if k not in default or v != default[k]}
        elif name not in pinned or value != pinned[name]:
            out[name] = value
    return json.dumps(out, separators=(",", ":"))


def load_schedule(raw: str | bytes) -> Schedule:
    """The schedule a stored text means, with the defaults of the version it was written
    in; keys this release does not know are ignored."""
    data: dict[str, Any] = json.loads(raw)
    pinned = _pinned(data.pop("v", 1))
    full = pinned | data
    for name in _NESTED:
        full[name] = pinned[name] | (data.get(name) or {})
    return Schedule.from_json(full)


def dump_tenant(t: Tenant) -> str:
    """A tenant's stored text: every field written (its meaning never depends on a default)."""
    return json.dumps({"v": RECORD_VERSION} | t.to_json(), separators=(",", ":"))


def load_tenant(raw: str | bytes) -> Tenant:
    data: dict[str, Any] = json.loads(raw)
    data.pop("v", None)
    return Tenant.from_json(data)
