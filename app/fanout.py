"""Sharded fan-out (docs/fanout.md): one fire, N shard deliveries, their outcomes gathered.

Pure: the settings, the shard identity and the body a shard sends. A shard's id is
deterministic from (parent fire id, index): ``<parent id>u<index>`` (fire ids are
Crockford base32, which has no ``u``), so a shard made twice is one record and keeps its
``webhook-id`` across retries, replays and a crash mid-expansion.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_MAX_SHARDS",
    "FanoutSettings",
    "ShardRef",
    "fanout_errors",
    "fanout_input",
    "parent_of",
    "shard_body",
    "shard_id",
]

DEFAULT_MAX_SHARDS = 1000  # a tenant's default `limits.max_fanout_shards`
_SEP = "u"  # not a Crockford base32 digit: never inside a fire id's random part


@dataclass(frozen=True)
class FanoutSettings:
    """``shards`` calls, or one call per element of ``params``; the parent fire fails when
    more than ``max_failed_shards`` shards fail for good."""

    shards: int | None = None
    params: tuple[Any, ...] | None = None
    max_failed_shards: int = 0

    def __post_init__(self) -> None:
        params: Any = self.params
        if isinstance(params, list):  # from stored or API JSON
            object.__setattr__(self, "params", tuple(params))

    @property
    def count(self) -> int:
        return len(self.params) if self.params is not None else int(self.shards or 0)

    def param(self, index: int) -> Any:
        return None if self.params is None else self.params[index]

    def to_json(self) -> dict[str, Any]:
        return {
            "shards": self.count,
            "params": None if self.params is None else list(self.params),
            "max_failed_shards": self.max_failed_shards,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> FanoutSettings | None:
        """From stored or API JSON (``params`` wins over ``shards``); None for no fan-out."""
        if not data:
            return None
        params = data.get("params")
        if params is not None:
            return cls(None, tuple(params), int(data.get("max_failed_shards") or 0))
        return cls(int(data["shards"]), None, int(data.get("max_failed_shards") or 0))


@dataclass(frozen=True)
class ShardRef:
    """What makes a fire a shard: its parent, its 0-based index, the shard count and its
    element of the parent's ``params`` (None without params)."""

    parent_id: str
    index: int
    count: int
    params: Any = field(default=None)

    def to_json(self) -> dict[str, Any]:
        return {"parent_id": self.parent_id, "index": self.index, "count": self.count,
                "params": self.params}  # fmt: skip

    def header(self) -> str:
        """The ``cronhook-shard`` header: ``<index>/<count>``."""
        return f"{self.index}/{self.count}"


def shard_id(parent_id: str, index: int) -> str:
    return f"{parent_id}{_SEP}{index}"


def parent_of(fire_id: str) -> tuple[str, int] | None:
    """(parent id, index) of a shard's id; None for any other fire id."""
    kind, _, rest = fire_id.partition("_")
    head, sep, index = rest.rpartition(_SEP)
    if kind != "fire" or not sep or not head or not index.isdigit():
        return None
    return f"{kind}_{head}", int(index)


def shard_body(base: Any, shard: ShardRef) -> Any:
    """The JSON body of a shard whose target body (or default document) is ``base``: a JSON
    object gets ``shard`` (``{"index", "count", "parent_id"}``) and, with params, ``params``
    (this shard's element), replacing keys of those names; any other body is sent as is."""
    if not isinstance(base, dict):
        return base
    out = dict(base)
    out["shard"] = {"index": shard.index, "count": shard.count, "parent_id": shard.parent_id}
    if shard.params is not None:
        out["params"] = shard.params
    return out


def fanout_errors(
    raw: Any, max_shards: int, max_bytes: int, root: str = "fanout"
) -> list[tuple[str, str]]:
    """(field, message) of every rule a fan-out setting breaks beyond the schema: exactly
    one of ``shards`` and ``params``, at most the tenant's ``max_fanout_shards`` shards, and
    ``params`` at most ``max_bytes`` (the tenant's ``max_body_bytes``) once encoded."""
    if not isinstance(raw, dict):
        return []
    shards, params = raw.get("shards"), raw.get("params")
    if (shards is None) == (params is None):
        return [(root, "give shards or params, exactly one of them")]
    name, count = ("params", len(params)) if isinstance(params, list) else ("shards", shards)
    if not isinstance(count, int) or isinstance(count, bool):
        return []
    if count > max_shards:
        message = f"makes {count} shards; this tenant allows at most {max_shards}"
        return [(f"{root}.{name}", message + " (limits.max_fanout_shards)")]
    size = len(json.dumps(params, separators=(",", ":"))) if name == "params" else 0
    if size > max_bytes:
        return [(f"{root}.params", f"is {size} bytes; this tenant allows at most {max_bytes}")]
    return []


def fanout_input(settings: FanoutSettings | None) -> dict[str, Any] | None:
    """A fan-out setting as the API takes it (what a PATCH merges into)."""
    if settings is None:
        return None
    which: dict[str, Any] = (
        {"shards": settings.shards}
        if settings.params is None
        else {"params": list(settings.params)}
    )
    return which | {"max_failed_shards": settings.max_failed_shards}
