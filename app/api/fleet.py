"""Operator route: the live fleet (dispatchers and invokers) from the registry."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from app.api.guard import Ctx, endpoint, route
from app.models import from_ms, rfc3339
from app.store.nodes import NodeReport

# A node is live while its last heartbeat is younger than this many of its own intervals.
LIVE_BEATS = 3.0
ROLES = ("dispatcher", "invoker")


def node_view(node: NodeReport, now_ms: int) -> dict[str, Any]:
    d = node.data
    age_s = max(0.0, (now_ms - node.heartbeat_ms) / 1000)
    live = age_s <= LIVE_BEATS * float(d.get("heartbeat_seconds", 2.0)) + 1.0
    view: dict[str, Any] = {
        "id": node.node_id,
        "role": d.get("role", "unknown"),
        "live": live,
        "state": d.get("state", "active") if live else "lost",
        "host": d.get("host"),
        "pid": d.get("pid"),
        "started_at": rfc3339(from_ms(d["started_at_ms"])) if "started_at_ms" in d else None,
        "last_heartbeat_at": rfc3339(from_ms(node.heartbeat_ms)),
        "heartbeat_age_seconds": round(age_s, 3),
        "clock_skew_ms": d.get("clock_skew_ms"),
        "counters": d.get("counters", {}),
    }
    for key in (
        "claims_per_second",
        "publishes_per_second",
        "publish_lag_ms",
        "batches_in_flight",
        "claim_horizon_seconds",
        "attempts_per_second",
    ):
        if key in d:
            view[key] = d[key]
    return view


def fleet_view(nodes: list[NodeReport], now_ms: int, depth: int) -> dict[str, Any]:
    views = [node_view(n, now_ms) for n in nodes]
    out: dict[str, Any] = {"now": rfc3339(from_ms(now_ms))}
    for role in ROLES:
        out[f"{role}s"] = [v for v in views if v["role"] == role]
    live_dispatchers = [v for v in out["dispatchers"] if v["live"]]
    out["summary"] = {
        "live_dispatchers": len(live_dispatchers),
        "claiming_dispatchers": sum(1 for v in live_dispatchers if v["state"] == "active"),
        "live_invokers": sum(1 for v in out["invokers"] if v["live"]),
        "claims_per_second": round(
            sum(v.get("claims_per_second", 0.0) for v in live_dispatchers), 2
        ),
        "time_index_depth": depth,
    }
    return out


@endpoint("getFleet", "admin")
async def get_fleet(ctx: Ctx) -> Response:
    now = await ctx.store.now_ms()
    nodes = await ctx.store.nodes.list()
    depth = await ctx.store.time.depth()
    return JSONResponse(fleet_view(nodes, now, depth))


ROUTES = [route("/v1/admin/fleet", GET=get_fleet)]
