"""The fence around the bus's fast paths on aiormq's channel internals.

``app.bus.amqp_batch`` (a publish batch in one write) and ``app.bus.amqp_acks`` (the acks
of a loop turn in one write), and the consumer on the aiormq channel under aio-pika's, use
parts of aiormq and pamqp that are not their public API. They run only on the aiormq and
pamqp releases they were tested against (``TESTED``, major and minor); on any other, or
when ``CRONHOOK_AMQP_FAST_PATH=off``, the bus uses aio-pika's public API instead (same
confirms, returns, acks and redeliveries, at more client CPU per message), and says so in
its log once. The bus contract's tests take both paths, and ``scripts/test`` runs the
integration, delivery and job tests a second time with ``CRONHOOK_AMQP_FAST_PATH=off``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version

log = logging.getLogger("cronhook.bus")

ENV = "CRONHOOK_AMQP_FAST_PATH"  # auto (default): the fast paths where tested; off: never
TESTED: dict[str, tuple[int, int]] = {"aiormq": (7, 2), "pamqp": (4, 0)}
_warned: set[str] = set()


def _minor(text: str) -> tuple[int, int] | None:
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def untested() -> list[str]:
    """``name version`` of each installed package whose release the fast paths were not
    tested against (empty: they may run)."""
    out = []
    for name, tested in TESTED.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "missing"
        if _minor(installed) != tested:
            out.append(f"{name} {installed}")
    return out


def use_fast_path(requested: bool | None = None, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the bus drives aiormq's internals. ``requested`` False: never; True or None:
    where the installed releases are the tested ones, and (None) unless ``ENV`` says off."""
    if requested is False:
        return False
    if requested is None:
        setting = environ.get(ENV, "auto").strip().lower()
        if setting in ("off", "0", "false", "no"):
            return False
    others = untested()
    if others:
        key = ", ".join(others)
        if key not in _warned:
            _warned.add(key)
            log.warning(
                "AMQP fast paths off: tested with aiormq %s.%s and pamqp %s.%s, found %s; "
                "using aio-pika's public API",
                *TESTED["aiormq"],
                *TESTED["pamqp"],
                key,
            )
        return False
    return True
