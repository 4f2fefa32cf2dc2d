"""Running cronhook roles as separate OS processes for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    role: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(sig)


@dataclass
class Fleet:
    env: dict[str, str]
    procs: list[Proc] = field(default_factory=list)
    logdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cronhook-e2e-")))

    def start(self, role: str, *args: str) -> Proc:
        log = self.logdir / f"{role}-{len(self.procs)}.log"
        with log.open("wb") as fh:  # the child keeps its own descriptor
            popen = subprocess.Popen(
                [sys.executable, "-m", "app.cli", role, *args],
                env=self.env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )
        proc = Proc(role, popen, log)
        self.procs.append(proc)
        return proc

    async def stop(self, proc: Proc, *, grace: float = 15.0) -> int:
        proc.kill(signal.SIGTERM)
        for _ in range(int(grace * 20)):
            if proc.popen.poll() is not None:
                return proc.popen.returncode
            await asyncio.sleep(0.05)
        proc.kill(signal.SIGKILL)
        return proc.popen.wait(5)

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(p) for p in self.procs if p.popen.poll() is None))

    def dump(self) -> str:
        return "\n".join(f"--- {p.role} ({p.log})\n{p.output()[-4000:]}" for p in self.procs)


def base_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRONHOOK_")}
    env.update(
        {"CRONHOOK_LOG_FORMAT": "json", "CRONHOOK_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
    )
    env.update(settings)
    return env


@contextlib.asynccontextmanager
async def fleet(env: Mapping[str, str]) -> AsyncIterator[Fleet]:
    f = Fleet(dict(env))
    try:
        yield f
    except BaseException:
        sys.stderr.write(f.dump())
        raise
    finally:
        await f.stop_all()


async def wait_http(url: str, *, within: float = 20.0, proc: Proc | None = None) -> None:
    deadline = asyncio.get_running_loop().time() + within
    async with httpx.AsyncClient() as c:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await c.get(url, timeout=1)).status_code == 200:
                    return
            if proc is not None and proc.popen.poll() is not None:
                raise AssertionError(f"{proc.role} exited:\n{proc.output()[-3000:]}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{url} not up within {within}s")
            await asyncio.sleep(0.1)
