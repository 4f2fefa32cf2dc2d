"""Lua scripts, read from ``lua/*.lua`` once and registered per connection."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

NAMES = (
    "ti_claim",
    "ti_done",
    "ti_put",
    "ti_remove",
    "fire_create",
    "fire_begin",
    "fire_finish",
    "fire_release",
)


@cache
def source(name: str) -> str:
    return (resources.files("app.store") / "lua" / f"{name}.lua").read_text()


class Scripts:
    """Every script registered on one client (EVALSHA, reloaded on NOSCRIPT by redis-py)."""

    def __init__(self, client: Any) -> None:
        for name in NAMES:
            setattr(self, name, client.register_script(source(name)))

    ti_claim: Any
    ti_done: Any
    ti_put: Any
    ti_remove: Any
    fire_create: Any
    fire_begin: Any
    fire_finish: Any
    fire_release: Any
