"""One Settings dataclass read from the environment and validated once at start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from app.bus.queues import MAX_QUEUES
from app.errors import ConfigError
from app.secretbox import Keyring

# (environment variable, field, type, default, help). The README's table is this table.
ENV_TABLE: tuple[tuple[str, str, type, Any, str], ...] = (
    (
        "CRONHOOK_REDIS_URL",
        "redis_url",
        str,
        "",
        "Redis URL (redis://, rediss://, redis+cluster://host:port for Redis Cluster, or "
        "redis+sentinel://host1:26379,host2:26379/<master name> for Sentinel); "
        "empty in `cronhook dev` = embedded store",
    ),
    (
        "CRONHOOK_AMQP_URL",
        "amqp_url",
        str,
        "",
        "RabbitMQ URL (amqp://user:pass@host:5672/vhost; a cluster's nodes comma separated: "
        "amqp://user:pass@n1:5672,n2:5672/vhost); empty in `cronhook dev` = embedded bus",
    ),
    (
        "CRONHOOK_ADMIN_TOKEN",
        "admin_token",
        str,
        "",
        "operator token for /v1/tenants; required by `cronhook api` (dev prints a fresh one)",
    ),
    ("CRONHOOK_PREFIX", "prefix", str, "cronhook", "prefix of every Redis key"),
    (
        "CRONHOOK_SECRET_KEYS",
        "secret_keys",
        str,
        "",
        "keys that encrypt signing secrets at rest: `id:base64 of 32 bytes`, comma-separated, "
        "the first used for new writes (docs/secrets.md); empty = stored in plain text "
        "(`cronhook dev` on its embedded store uses a key of its own)",
    ),
    ("CRONHOOK_QUEUE", "queue", str, "cronhook.fires", "RabbitMQ quorum queue of ready fires"),
    (
        "CRONHOOK_QUEUES",
        "queues",
        int,
        1,
        "quorum queues the fires are spread over (CRONHOOK_QUEUE, then CRONHOOK_QUEUE.1, ...); "
        "see docs/scaling.md before changing it on a running deployment",
    ),
    (
        "CRONHOOK_SHARDS",
        "shards",
        int,
        16,
        "shards of the time index of a new deployment; grow them later with "
        "`cronhook shards grow` (the count in Redis then wins)",
    ),
    (
        "CRONHOOK_LEASE_SECONDS",
        "lease_seconds",
        float,
        30.0,
        "dispatcher claim lease; longer than the worst stall you allow",
    ),
    (
        "CRONHOOK_POLL_SECONDS",
        "poll_seconds",
        float,
        0.1,
        "longest a dispatcher sleeps between claims",
    ),
    ("CRONHOOK_CLAIM_BATCH", "claim_batch", int, 500, "items claimed per shard per claim"),
    (
        "CRONHOOK_LOOKAHEAD_SECONDS",
        "lookahead_seconds",
        float,
        1.0,
        "how far ahead of an instant a dispatcher claims and prepares its fires; "
        "0 = claim only when due",
    ),
    (
        "CRONHOOK_PUBLISH_AHEAD_SECONDS",
        "publish_ahead_seconds",
        float,
        0.3,
        "how long before an instant a dispatcher publishes its fires, which invokers hold "
        "until the instant (never early); capped at the lookahead; 0 = publish at the instant",
    ),
    (
        "CRONHOOK_HERD_LOOKAHEAD_SECONDS",
        "herd_lookahead_seconds",
        float,
        10.0,
        "when CRONHOOK_HERD_SIZE or more items fall due within this many seconds, dispatchers "
        "claim and prepare that far ahead (publishing still waits for "
        "CRONHOOK_PUBLISH_AHEAD_SECONDS); 0 = never beyond the lookahead",
    ),
    (
        "CRONHOOK_HERD_SIZE",
        "herd_size",
        int,
        20_000,
        "items due within CRONHOOK_HERD_LOOKAHEAD_SECONDS that make a herd",
    ),
    (
        "CRONHOOK_HEARTBEAT_SECONDS",
        "heartbeat_seconds",
        float,
        2.0,
        "how often dispatchers and invokers report to the fleet registry",
    ),
    (
        "CRONHOOK_MAX_CLOCK_SKEW_SECONDS",
        "max_clock_skew_seconds",
        float,
        1.0,
        "a dispatcher whose clock is further than this from Redis TIME stops claiming",
    ),
    ("CRONHOOK_REDIS_TIMEOUT", "redis_timeout", float, 5.0, "Redis socket timeout, seconds"),
    ("CRONHOOK_HOST", "host", str, "127.0.0.1", "API bind address"),
    ("CRONHOOK_PORT", "port", int, 8080, "API port"),
    (
        "CRONHOOK_PUBLIC_URL",
        "public_url",
        str,
        "",
        "the API's address as browsers and webhook endpoints reach it (https://... behind "
        "TLS): the base of portal and console sign-in links and of long jobs' "
        "cronhook-job-url; empty = the address each request came to (links), "
        "http://CRONHOOK_HOST:CRONHOOK_PORT (job URLs)",
    ),
    (
        "CRONHOOK_INVOKER_CONCURRENCY",
        "invoker_concurrency",
        int,
        64,
        "deliveries in flight per invoker process",
    ),
    (
        "CRONHOOK_INVOKER_HOLD",
        "invoker_hold",
        int,
        1000,
        "fires published ahead of their instant that an invoker accepts and holds until it, "
        "besides its deliveries in flight (RabbitMQ prefetch = concurrency + hold)",
    ),
    (
        "CRONHOOK_FANOUT_STEP",
        "fanout_step",
        int,
        500,
        "shards a fan-out fire makes and publishes per expansion step (docs/fanout.md)",
    ),
    (
        "CRONHOOK_DELIVERY_LIMIT",
        "delivery_limit",
        int,
        20,
        "RabbitMQ x-delivery-limit before a message is dead-lettered",
    ),
    (
        "CRONHOOK_ALLOW_PRIVATE_TARGETS",
        "allow_private_targets",
        bool,
        False,
        "allow webhook targets on private/loopback addresses for every tenant (dev, tests)",
    ),
    (
        "CRONHOOK_FIRE_RETENTION_SECONDS",
        "fire_retention_seconds",
        int,
        7 * 86400,
        "how long fire records and attempts are kept",
    ),
    (
        "CRONHOOK_ALLOW_EVICTION",
        "allow_eviction",
        bool,
        False,
        "start even when Redis has maxmemory with a policy other than noeviction (it may "
        "delete schedules and time-index items); logged as an error at every start",
    ),
    ("CRONHOOK_LOG_FORMAT", "log_format", str, "json", "json or console"),
    ("CRONHOOK_LOG_LEVEL", "log_level", str, "INFO", "DEBUG, INFO, WARNING or ERROR"),
    (
        "CRONHOOK_METRICS_PORT",
        "metrics_port",
        int,
        0,
        "port of /metrics, /healthz, /readyz on a dispatcher or invoker (0 = off; "
        "the API serves them on its own port)",
    ),
    (
        "CRONHOOK_METRICS_TENANTS",
        "metrics_tenants",
        str,
        "",
        "comma-separated tenant ids that get their own `tenant` label on delivery "
        "metrics (every other tenant is `_other`)",
    ),
    (
        "CRONHOOK_EVENT_LOOP",
        "event_loop",
        str,
        "auto",
        "auto (uvloop when installed), uvloop or asyncio",
    ),
    (
        "CRONHOOK_SHUTDOWN_SECONDS",
        "shutdown_seconds",
        float,
        20.0,
        "on SIGTERM: how long in-flight requests, ticks and deliveries may finish",
    ),
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    redis_url: str = ""
    amqp_url: str = ""
    admin_token: str = ""
    prefix: str = "cronhook"
    secret_keys: str = field(default="", repr=False)
    queue: str = "cronhook.fires"
    queues: int = 1
    shards: int = 16
    lease_seconds: float = 30.0
    poll_seconds: float = 0.1
    claim_batch: int = 500
    lookahead_seconds: float = 1.0
    publish_ahead_seconds: float = 0.3
    herd_lookahead_seconds: float = 10.0
    herd_size: int = 20_000
    heartbeat_seconds: float = 2.0
    max_clock_skew_seconds: float = 1.0
    redis_timeout: float = 5.0
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    invoker_concurrency: int = 64
    invoker_hold: int = 1000
    fanout_step: int = 500
    delivery_limit: int = 20
    allow_private_targets: bool = False
    fire_retention_seconds: int = 7 * 86400
    allow_eviction: bool = False
    log_format: str = "json"
    log_level: str = "INFO"
    metrics_port: int = 0
    metrics_tenants: str = ""
    shutdown_seconds: float = 20.0
    event_loop: str = "auto"

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ConfigError("; ".join(problems))

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def api_base_url(self) -> str:
        """Where webhook endpoints reach the API (long jobs' ``cronhook-job-url``)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def metrics_tenant_ids(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.metrics_tenants.split(",") if t.strip())


def _problems(s: Settings) -> list[str]:
    out: list[str] = []
    positive = (
        "shards",
        "lease_seconds",
        "poll_seconds",
        "claim_batch",
        "herd_size",
        "heartbeat_seconds",
        "max_clock_skew_seconds",
        "redis_timeout",
        "invoker_concurrency",
        "fanout_step",
        "delivery_limit",
        "fire_retention_seconds",
        "shutdown_seconds",
    )
    names = {f: env for env, f, *_ in ENV_TABLE}
    out += [f"{names[f]} must be positive" for f in positive if getattr(s, f) <= 0]
    if not 1 <= s.queues <= MAX_QUEUES:
        out.append(f"CRONHOOK_QUEUES must be between 1 and {MAX_QUEUES}")
    if not 0 < s.port < 65536:
        out.append("CRONHOOK_PORT must be between 1 and 65535")
    if not 0 <= s.metrics_port < 65536:
        out.append("CRONHOOK_METRICS_PORT must be between 0 (off) and 65535")
    if s.lease_seconds <= s.redis_timeout:
        out.append("CRONHOOK_LEASE_SECONDS must exceed CRONHOOK_REDIS_TIMEOUT")
    if not 0 <= s.lookahead_seconds <= 60:
        out.append("CRONHOOK_LOOKAHEAD_SECONDS must be between 0 and 60")
    if not 0 <= s.publish_ahead_seconds <= 60:
        out.append("CRONHOOK_PUBLISH_AHEAD_SECONDS must be between 0 and 60")
    if not 0 <= s.herd_lookahead_seconds <= 60:
        out.append("CRONHOOK_HERD_LOOKAHEAD_SECONDS must be between 0 and 60")
    if s.invoker_hold < 0:
        out.append("CRONHOOK_INVOKER_HOLD must be 0 or more")
    if s.event_loop not in ("auto", "uvloop", "asyncio"):
        out.append("CRONHOOK_EVENT_LOOP must be auto, uvloop or asyncio")
    if s.log_format not in ("json", "console"):
        out.append("CRONHOOK_LOG_FORMAT must be json or console")
    if s.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        out.append("CRONHOOK_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
    if s.redis_url and not s.redis_url.startswith(
        ("redis://", "rediss://", "redis+cluster://", "redis+sentinel://", "unix://")
    ):
        out.append(
            "CRONHOOK_REDIS_URL must start with redis://, rediss://, redis+cluster:// "
            "or redis+sentinel://"
        )
    if s.amqp_url and not s.amqp_url.startswith(("amqp://", "amqps://")):
        out.append("CRONHOOK_AMQP_URL must start with amqp:// or amqps://")
    if s.public_url and not s.public_url.startswith(("http://", "https://")):
        out.append("CRONHOOK_PUBLIC_URL must start with http:// or https://")
    if not s.prefix or "{" in s.prefix or "}" in s.prefix:
        out.append("CRONHOOK_PREFIX must be non-empty and contain no braces")
    if s.secret_keys:
        try:
            Keyring.parse(s.secret_keys)
        except ConfigError as e:
            out.append(str(e))
    return out


def _convert(env: str, kind: type, raw: str) -> Any:
    if kind is bool:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(f"{env} must be true or false, got {raw!r}")
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{env} must be a {kind.__name__}, got {raw!r}") from None


def from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read every CRONHOOK_* variable, apply ``overrides`` last, validate once."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for env, name, kind, _default, _help in ENV_TABLE:
        if env in environ:
            values[name] = _convert(env, kind, environ[env])
    values.update(overrides)
    known = {f.name for f in fields(Settings)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown settings: {sorted(unknown)}")
    return Settings(**values)
