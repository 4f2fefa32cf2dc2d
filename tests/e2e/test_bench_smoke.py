"""bench/e2e.py, bench/bulk_import.py, bench/jobs.py and bench/admission.py at tiny sizes,
so the benchmarks cannot rot: they run the real processes on the real services, and every
case delivers (or admits) every fire. No figure is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.procs import ROOT

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]


def test_the_end_to_end_benchmark_runs_and_loses_nothing(
    redis_url: str, amqp_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "bench/e2e.py", "--smoke", "--no-progress", "--json", str(out)]
    cmd += ["--redis-url", redis_url, "--amqp-url", amqp_url]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert "due at one instant" in done.stdout and "raw ceiling" in done.stdout
    result = json.loads(out.read_text())
    [run] = result["runs"]
    [burst] = run["burst"].values()
    assert burst["lost"] == 0 and burst["duplicates"] == 0
    assert burst["pipeline"]["publish_lag_ms"]["count"] == 50
    cpu = burst["cpu_ms_per_fire"]
    assert set(cpu) == {"api", "dispatcher", "invoker", "redis", "rabbitmq", "total"}
    assert cpu["dispatcher"] > 0 and cpu["invoker"] > 0 and cpu["redis"] > 0
    parts = sum(v for k, v in cpu.items() if k != "total")
    assert abs(cpu["total"] - parts) < 0.01  # each part rounded to a microsecond
    assert "whole pipeline" in done.stdout
    [sustained] = run["sustained"].values()
    assert sustained["fires_per_s"] > 0 and sustained["duplicates"] == 0
    assert run["api"]["per_s"] > 0 and run["ceiling"]["httpx"] > 0
    assert result["machine"]["cpus"] and result["load_before"]


def test_the_jobs_benchmark_runs_every_job_to_success(
    redis_url: str, amqp_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "jobs.json"
    cmd = [sys.executable, "bench/jobs.py", "--jobs", "40", "--spread", "6", "--lead", "6"]
    cmd += ["--json", str(out)]
    env = {**os.environ, "CRONHOOK_BENCH_REDIS_URL": redis_url}
    env["CRONHOOK_BENCH_AMQP_URL"] = amqp_url
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=150, env=env)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert "all_succeeded_after_s" in done.stdout
    result = json.loads(out.read_text())
    # every job delivered once per attempt, completed, recorded without an error
    assert result["distinct_fire_attempts_delivered"] == 40
    assert result["attempts_recorded_by_error"] == {"ok": 40}
    assert result["completions_200"] >= 40 and result["report_errors"] == 0
    # the running-jobs gauge counted the jobs running (none can end in the first 2 s of
    # its 6 s spread, so both are read before any completion), and none after
    assert result["gauge_running_when_all_delivered"] == result["running_when_all_delivered"]
    assert result["gauge_running_after"] == 0
    assert set(result["cpu_ms_per_job"]) >= {"dispatcher-1", "invoker-2", "redis"}
    assert result["load_before"] and result["machine"]["cpus"]


def test_the_bulk_import_benchmark_runs_both_paths(redis_url: str, amqp_url: str) -> None:
    cmd = [sys.executable, "bench/bulk_import.py", "--count", "60", "--runs", "1"]
    cmd += ["--redis-url", redis_url, "--amqp-url", amqp_url]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("median of 1: one at a time") and "bulk/single" in last


def test_the_fanout_benchmark_runs_and_loses_nothing(
    redis_url: str, amqp_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "fanout.json"
    cmd = [sys.executable, "bench/fanout.py", "--smoke", "--no-progress", "--json", str(out)]
    cmd += ["--redis-url", redis_url, "--amqp-url", amqp_url]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert "fan-out / burst per call" in done.stdout
    [run] = json.loads(out.read_text())["runs"]
    assert run["burst"]["lost"] == 0 and run["fanout"]["lost"] == 0
    assert run["fanout"]["duplicates"] == 0 and run["fanout"]["status"] == "succeeded"
    assert run["fanout"]["cpu_ms_per_call"]["invoker"] > 0
    assert run["ratio"]["wall_per_call"] > 0 and run["ratio"]["cpu_per_call"] > 0


def test_the_admission_benchmark_admits_every_fire_and_cleans_up(redis_url: str) -> None:
    cmd = [sys.executable, "bench/admission.py", "--fires", "200", "--batch", "50", "--runs", "1"]
    env = {**os.environ, "CRONHOOK_TEST_REDIS_URL": redis_url}
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert "median: Redis CPU" in done.stdout and "us per admission" in done.stdout
