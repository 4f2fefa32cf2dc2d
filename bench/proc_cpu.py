"""CPU seconds of whole processes from /proc (Linux): the fleet's own processes by pid, and
the servers it talks to (Redis, RabbitMQ) found by the loopback port they listen on.

The benchmark reads these before and after a case, so a figure covers every process of the
pipeline, the services included, not only what cronhook's processes report of themselves.
On a shared machine the services' figures include whatever else talks to them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of one process (all its threads); 0.0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # the command name (field 2) may hold spaces: split after its closing parenthesis
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICKS


def total_cpu_seconds(pids: Iterable[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def listener_pids(port: int) -> list[int]:
    """The pids holding a socket that listens on ``port`` (needs the right to read their fd
    tables: root, or the same user). Empty when none is found."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not wanted:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue
        if links & wanted:
            found.append(int(entry.name))
    return sorted(found)
