"""Fan-out benchmark: one fire of N shards (``--shards``, default 10,000) against the burst of
N schedules due at one instant of ``bench/e2e.py``, in the same run, on the same fleet of
OS processes (api, dispatcher, invokers on the real Redis and RabbitMQ) and the same
loopback receiver.

Per run and case: the drain (last arrival minus the instant: the burst's scheduled second,
the fan-out message's POST), wall milliseconds per call (drain / N), CPU milliseconds per
call of every process of the pipeline (from /proc, as ``bench/proc_cpu.py`` reads it), lost
and repeated calls; for the fan-out also when the parent ended (its shards gathered). Then
the ratios fan-out / burst of wall and CPU per call (below 1: the fan-out is cheaper per
call). Prints a table of the medians over ``--runs`` and the JSON of every run.

    .venv/bin/python bench/fanout.py                 # 10,000 shards vs 10,000 schedules
    .venv/bin/python bench/fanout.py --runs 3 --json out.json
    .venv/bin/python bench/fanout.py --smoke         # tiny and quick (the CI test)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import httpx
from e2e import _first_per_fire, _settle, burst, cpu_seconds, emit, fleet_config, on_fleet
from e2e import parse as e2e_parse
from e2e_fleet import Fleet, create_tenant
from e2e_receiver import ReceiverProcess
from e2e_report import load, machine, spread


async def _raise_quota(fleet: Fleet, tenant_id: str, shards: int) -> None:
    auth = {"Authorization": f"Bearer {fleet.admin_token}"}
    async with httpx.AsyncClient(base_url=fleet.api_urls[0], timeout=30) as c:
        body = {"limits": {"max_fanout_shards": max(shards, 1)}}
        r = await c.patch(f"/v1/tenants/{tenant_id}", json=body, headers=auth)
        r.raise_for_status()


async def _parent(api: httpx.AsyncClient, key: str, fid: str) -> dict[str, Any]:
    r = await api.get(f"/v1/fires/{fid}", headers={"Authorization": f"Bearer {key}"})
    r.raise_for_status()
    doc: dict[str, Any] = r.json()
    return doc


async def fanout(fleet: Fleet, rx: ReceiverProcess, key: str, n: int) -> dict[str, Any]:
    """One message of ``n`` shards: delivered and gathered."""
    await _settle(rx)
    rx.take()
    base = rx.count()
    cpu_before = await cpu_seconds(fleet)
    body = {"target": {"url": rx.url("/f")}, "fanout": {"shards": n}}
    async with httpx.AsyncClient(base_url=fleet.api_urls[0], timeout=30) as api:
        start = time.time()
        r = await api.post("/v1/messages", json=body, headers={"Authorization": f"Bearer {key}"})
        r.raise_for_status()
        fid = r.json()["id"]
        deadline = start + max(60.0, n / 50)
        ended_at = None
        while time.time() < deadline:
            if ended_at is None and (await _parent(api, key, fid))["status"] == "succeeded":
                ended_at = time.time()
            if rx.count() - base >= n and ended_at is not None:
                break
            await asyncio.sleep(0.05)
        await _settle(rx)
        parent = await _parent(api, key, fid)
    cpu_after = await cpu_seconds(fleet)
    first, dups = _first_per_fire(rx.take(), lambda r: r[1].startswith(f"{fid}u"))
    arrivals = [r[0] for r in first.values()]
    drain = max(arrivals, default=start) - start
    return {
        "drain_s": round(drain, 3),
        "calls_per_s": round(len(first) / drain, 1) if drain > 0 else 0.0,
        "wall_ms_per_call": round(drain * 1000 / n, 4),
        "lag_ms": spread([a - start for a in arrivals]),
        "lost": n - len(first),
        "duplicates": dups,
        "ended_s": round(ended_at - start, 3) if ended_at else None,
        "status": parent["status"],
        "cpu_ms_per_call": {
            role: round((cpu_after[role] - cpu_before[role]) * 1000 / n, 3) for role in cpu_after
        },
    }


async def one_run(fleet: Fleet, rx: ReceiverProcess, args: argparse.Namespace) -> dict[str, Any]:
    tenant = await create_tenant(fleet.api_urls[0], fleet.admin_token)
    await _raise_quota(fleet, tenant["id"], args.shards)
    key, n = tenant["api_key"], args.shards
    run: dict[str, Any] = {"load": {"start": load()}}
    case, _made = await burst(fleet, rx, key, n, args)
    case["wall_ms_per_call"] = round(case["drain_s"] * 1000 / n, 4)
    run["burst"] = case
    run["load"]["after_burst"] = load()
    run["fanout"] = await fanout(fleet, rx, key, n)
    run["load"]["after_fanout"] = load()
    b, f = run["burst"], run["fanout"]
    run["ratio"] = {
        "wall_per_call": round(f["wall_ms_per_call"] / max(b["wall_ms_per_call"], 1e-9), 3),
        "cpu_per_call": round(
            f["cpu_ms_per_call"]["total"] / max(b["cpu_ms_per_fire"]["total"], 1e-9), 3
        ),
    }
    return run


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shards", type=int, default=10_000, help="N: shards, and schedules")
    p.add_argument("--smoke", action="store_true", help="tiny sizes: a quick check")
    own, rest = p.parse_known_args(argv)
    args = e2e_parse(rest)  # the fleet, services and output options of bench/e2e.py
    args.shards = 50 if own.smoke else own.shards
    if own.smoke:
        args.invokers, args.runs = 1, 1
    return args


def table(result: dict[str, Any]) -> str:
    m, med, n = result["machine"], result["median"], result["shards"]
    b, f, ratio = med["burst"], med["fanout"], med["ratio"]
    lines = [
        f"machine   {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, {m['os']}",
        f"load      {result['load_before']} before, {result['load_after']} after (1/5/15 min)",
        f"medians of {len(result['runs'])} run(s), N = {n:,}",
        f"{'case':<28}{'drain s':>9}{'wall ms/call':>14}{'CPU ms/call':>13}{'lost':>6}{'dup':>5}",
        f"{'burst: N schedules at once':<28}{b['drain_s']:>9}{b['wall_ms_per_call']:>14}"
        f"{b['cpu_ms_per_fire']['total']:>13}{b['lost']:>6}{b['duplicates']:>5}",
        f"{'fan-out: one fire, N shards':<28}{f['drain_s']:>9}{f['wall_ms_per_call']:>14}"
        f"{f['cpu_ms_per_call']['total']:>13}{f['lost']:>6}{f['duplicates']:>5}",
        f"fan-out / burst per call: wall {ratio['wall_per_call']}, CPU {ratio['cpu_per_call']}"
        f"; parent ended {f['ended_s']} s after the POST",
    ]
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "command": "bench/fanout.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "shards": args.shards,
        "load_before": load(),
    }
    return await on_fleet(args, fleet_config(args), one_run, result)


if __name__ == "__main__":
    arguments = parse()
    outcome = asyncio.run(main(arguments))
    emit(outcome, table(outcome), arguments.json)
