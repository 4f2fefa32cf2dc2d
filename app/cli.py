"""The `cronhook` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import Any

from app import logs
from app.errors import ConfigError, CronhookError
from app.settings import ENV_TABLE, Settings, from_env

ROLES = {
    "dev": "everything in one process on embedded backends (or the real ones if "
    "CRONHOOK_REDIS_URL / CRONHOOK_AMQP_URL are set), a demo tenant and an echo "
    "receiver: the five-minute start",
    "api": "the HTTP API (Starlette on hypercorn); run any number",
    "dispatcher": "moves due items from the Redis time index to RabbitMQ; run any number",
    "invoker": "consumes fires from RabbitMQ and calls the webhooks; run any number",
    "rewrap-secrets": "encrypts every tenant's signing secrets under the first key of "
    "CRONHOOK_SECRET_KEYS (plain-text ones and ones under older keys), then exits",
}


def parser() -> argparse.ArgumentParser:
    env_help = "\n".join(
        f"  {env:<34} {hlp} (default: {default!r})" for env, _f, _t, default, hlp in ENV_TABLE
    )
    p = argparse.ArgumentParser(
        prog="cronhook",
        description="cronhook: cron-triggered, signed webhooks for many tenants.",
        epilog=f"configuration (environment):\n{env_help}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="role", required=True, metavar="ROLE")
    for role, hlp in ROLES.items():
        sp = sub.add_parser(role, help=hlp, description=hlp)
        if role in ("dev", "api"):
            sp.add_argument("--host", help="bind address (CRONHOOK_HOST)")
            sp.add_argument("--port", type=int, help="port (CRONHOOK_PORT)")
    return p


def settings_for(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    if args.role == "dev":
        import os

        if "CRONHOOK_LOG_FORMAT" not in os.environ:
            overrides["log_format"] = "console"
    return from_env(None, **overrides)


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when asked for and installed (``auto``: if installed), else asyncio's own."""
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if name == "uvloop":
            raise ConfigError("CRONHOOK_EVENT_LOOP=uvloop but uvloop is not installed") from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = settings_for(args)
    except ConfigError as e:
        print(f"cronhook: configuration error: {e}", file=sys.stderr)
        return 2
    logs.setup(settings.log_format, settings.log_level)
    from app import dev, runtime

    runner = {
        "dev": dev.run_dev,
        "api": runtime.run_api,
        "dispatcher": runtime.run_dispatcher,
        "invoker": runtime.run_invoker,
        "rewrap-secrets": runtime.run_rewrap,
    }[args.role]
    try:
        with asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as loop:
            loop.run(runner(settings))
    except ConfigError as e:
        print(f"cronhook: configuration error: {e}", file=sys.stderr)
        return 2
    except CronhookError as e:
        print(f"cronhook: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
