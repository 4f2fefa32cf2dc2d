"""The `cronhook` command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from app import logs
from app.errors import ConfigError, CronhookError
from app.settings import ENV_TABLE, Settings, from_env
from app.version import __version__

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
# operator commands: (help, {action: help})
COMMANDS = {
    "queues": (
        "the RabbitMQ work queues (CRONHOOK_QUEUES): status, or prune the ones a larger N "
        "left behind once drained",
        {"status": "messages ready per queue", "prune": "delete drained leftover queues"},
    ),
    "shards": (
        "the time index's shards: status, or grow COUNT on a running deployment "
        "(docs/scaling.md); run grow again to resume one that stopped",
        {"status": "the shard layout", "grow": "move the items to COUNT shards"},
    ),
}
COMMAND_ARGS = {("shards", "grow"): ("count", int, "the new shard count (more than now)")}


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
    p.add_argument("--version", action="version", version=f"cronhook {__version__}")
    sub = p.add_subparsers(dest="role", required=True, metavar="ROLE")
    for role, hlp in ROLES.items():
        sp = sub.add_parser(role, help=hlp, description=hlp)
        if role in ("dev", "api"):
            sp.add_argument("--host", help="bind address (CRONHOOK_HOST)")
            sp.add_argument("--port", type=int, help="port (CRONHOOK_PORT)")
        else:
            sp.add_argument(
                "--metrics-port",
                type=int,
                help="port of /metrics, /healthz, /readyz; wins over CRONHOOK_METRICS_PORT "
                "(the systemd units give each instance its own)",
            )
    for command, (hlp, actions) in COMMANDS.items():
        sp = sub.add_parser(command, help=hlp, description=hlp)
        acts = sp.add_subparsers(dest="action", required=True, metavar="ACTION")
        for action, action_help in actions.items():
            ap = acts.add_parser(action, help=action_help, description=action_help)
            if (command, action) in COMMAND_ARGS:
                name, kind, arg_help = COMMAND_ARGS[command, action]
                ap.add_argument(name, type=kind, help=arg_help)
    return p


def settings_for(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of ``environ`` (default: the process's), command-line options winning."""
    environ = os.environ if environ is None else environ
    overrides: dict[str, Any] = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    if getattr(args, "metrics_port", None) is not None:
        overrides["metrics_port"] = args.metrics_port
    if args.role == "dev" and "CRONHOOK_LOG_FORMAT" not in environ:
        overrides["log_format"] = "console"
    return from_env(environ, **overrides)


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


def _runner(role: str) -> Callable[[Settings], Coroutine[Any, Any, None]]:
    from app import dev, runtime

    return {
        "dev": dev.run_dev,
        "api": runtime.run_api,
        "dispatcher": runtime.run_dispatcher,
        "invoker": runtime.run_invoker,
        "rewrap-secrets": runtime.run_rewrap,
    }[role]


async def _command(args: argparse.Namespace, settings: Settings) -> str:
    from app import admin

    run: Callable[..., Coroutine[Any, Any, str]] = getattr(admin, f"{args.role}_{args.action}")
    extra = COMMAND_ARGS.get((args.role, args.action))
    return await (run(settings, getattr(args, extra[0])) if extra else run(settings))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = settings_for(args)
    except ConfigError as e:
        print(f"cronhook: configuration error: {e}", file=sys.stderr)
        return 2
    logs.setup(settings.log_format, settings.log_level)
    try:
        with asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as loop:
            if args.role in COMMANDS:
                print(loop.run(_command(args, settings)))
            else:
                loop.run(_runner(args.role)(settings))
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
