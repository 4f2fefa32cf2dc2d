"""Every Lua script of the store, in one typed registry, registered once per client.

A script is a file ``lua/<name>.lua`` and a field ``<name>`` of :class:`LuaScripts`; adding
a script is adding both (tests/unit/test_lua_scripts.py holds the files and the fields to
each other). Each field is redis-py's ``AsyncScript`` (its ``sha`` and ``script``, called
with ``keys=`` and ``args=``); ``Scripts`` sends them as EVALSHAs in pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from importlib import resources
from typing import Any

from redis.commands.core import AsyncScript


@cache
def source(name: str) -> str:
    """The text of ``lua/<name>.lua``."""
    return (resources.files("app.store") / "lua" / f"{name}.lua").read_text()


@dataclass(frozen=True)
class LuaScripts:
    """One field per ``lua/*.lua`` file, named after it."""

    # the time index
    ti_claim: AsyncScript
    ti_done: AsyncScript
    ti_put: AsyncScript
    ti_remove: AsyncScript
    # a reshard of the time index (app/store/reshard.py)
    ti_move_out: AsyncScript
    ti_move_in: AsyncScript
    ti_move_done: AsyncScript
    # fire records
    fire_create: AsyncScript
    fire_begin: AsyncScript
    fire_finish: AsyncScript
    fire_release: AsyncScript
    fire_replay: AsyncScript
    fire_skip: AsyncScript
    fire_replan: AsyncScript
    # long jobs' attempts (app/store/jobs.py)
    job_start: AsyncScript
    job_answer: AsyncScript
    job_report: AsyncScript
    job_check: AsyncScript
    job_settle: AsyncScript
    # fan-out parents and their shards (app/store/fanout.py)
    fanout_make: AsyncScript
    fanout_advance: AsyncScript
    fanout_gather: AsyncScript
    fanout_close: AsyncScript
    fanout_reopen: AsyncScript
    # records and request guards
    rec_cas: AsyncScript
    sched_write: AsyncScript
    api_rate: AsyncScript

    @classmethod
    def register(cls, client: Any) -> LuaScripts:
        """Every script registered on ``client`` (redis-py loads one on its first call)."""
        return cls(**{f.name: client.register_script(source(f.name)) for f in fields(cls)})

    def by_name(self) -> dict[str, AsyncScript]:
        """Every script, by its file's name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
