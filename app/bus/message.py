"""The fire message on the bus: frozen, versioned, with the fire's deterministic id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any

from app.errors import PoisonMessage

VERSION = 1
_quote = encode_basestring_ascii  # json.dumps's own string encoder (ensure_ascii)


@dataclass(frozen=True)
class FireMessage:
    """Tells an invoker to make attempt ``attempt`` of fire ``fire_id``.

    The target lives in the fire record, not in the message: a message is a pointer plus
    the attempt number, which is what makes stale copies recognisable.

    ``settle``: no request; attempt ``attempt`` of the fire's long job has reached its
    deadline or reported its outcome (the timeout watch, app/jobs/): end and apply it.

    ``not_before_ms``: published ahead of its instant (Redis time, ms); the invoker holds it
    until then. 0: due when it arrives. Left out of the JSON when 0.

    ``schedule_id``: on the first attempt of a cron fire, its schedule, so the invoker can
    check at delivery that the schedule is still as the fire was planned from (an edit,
    pause or delete made before the instant wins). "": no check. Left out when "".
    """

    fire_id: str
    tenant_id: str
    attempt: int
    scheduled_at_ms: int
    replay: bool = False
    settle: bool = False
    not_before_ms: int = 0
    schedule_id: str = ""

    def encode(self) -> bytes:
        """Compact JSON; with the usual field types formatted directly (json.dumps's bytes,
        a third of its cost), anything else by json.dumps."""
        fid, tid, attempt, at, replay = (
            self.fire_id,
            self.tenant_id,
            self.attempt,
            self.scheduled_at_ms,
            self.replay,
        )
        if self.settle:
            return self._encode_all()
        nb, sid = self.not_before_ms, self.schedule_id
        if (
            type(fid) is str
            and type(tid) is str
            and type(attempt) is int
            and type(at) is int
            and type(replay) is bool
            and type(nb) is int
            and type(sid) is str
        ):
            flag = "true" if replay else "false"
            hold = f',"not_before_ms":{nb}' if nb else ""
            of = f',"schedule_id":{_quote(sid)}' if sid else ""
            return (
                f'{{"v":{VERSION},"fire_id":{_quote(fid)},"tenant_id":{_quote(tid)},'
                f'"attempt":{attempt},"scheduled_at_ms":{at},"replay":{flag}{hold}{of}}}'
            ).encode()
        return self._encode_all()

    def _encode_all(self) -> bytes:
        data = {
            "v": VERSION,
            "fire_id": self.fire_id,
            "tenant_id": self.tenant_id,
            "attempt": self.attempt,
            "scheduled_at_ms": self.scheduled_at_ms,
            "replay": self.replay,
        }
        if self.settle:
            data["settle"] = True
        if self.not_before_ms:
            data["not_before_ms"] = self.not_before_ms
        if self.schedule_id:
            data["schedule_id"] = self.schedule_id
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, body: bytes) -> FireMessage:
        try:
            data: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise PoisonMessage(f"not JSON: {e}") from e
        if not isinstance(data, dict) or data.get("v") != VERSION:
            raise PoisonMessage(f"unknown message version: {str(data)[:80]}")
        try:
            msg = cls(
                fire_id=_str(data, "fire_id"),
                tenant_id=_str(data, "tenant_id"),
                attempt=_int(data, "attempt"),
                scheduled_at_ms=_int(data, "scheduled_at_ms"),
                replay=bool(data.get("replay", False)),
                settle=data.get("settle") is True,
                not_before_ms=_int(data, "not_before_ms") if "not_before_ms" in data else 0,
                schedule_id=_str(data, "schedule_id") if "schedule_id" in data else "",
            )
        except (KeyError, TypeError, ValueError) as e:
            raise PoisonMessage(f"malformed fire message: {e}") from e
        if msg.attempt < 1:
            raise PoisonMessage("attempt must be >= 1")
        return msg


def _str(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _int(data: dict[str, Any], key: str) -> int:
    value = data[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key} must be an integer")
    return value
