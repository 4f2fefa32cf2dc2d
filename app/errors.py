"""One error tree for cronhook. HTTP mapping lives only in the API layer."""

from __future__ import annotations

from dataclasses import dataclass, field


class CronhookError(Exception):
    """Base of every error cronhook raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One offending field: a dotted path (``target.url``) and a human message."""

    field: str
    message: str


class ValidationFailed(CronhookError):
    """Input broke the contract; ``errors`` names each offending field."""

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        self.errors = errors
        self.detail = detail or "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(self.detail)


class NotFound(CronhookError):
    """The resource does not exist, or belongs to another tenant (indistinguishable)."""


class Conflict(CronhookError):
    """The request conflicts with the current state."""


@dataclass
class QuotaExceeded(CronhookError):
    """A tenant quota or limit refused the request."""

    detail: str
    field: str = field(default="")

    def __str__(self) -> str:
        return self.detail


class StoreUnavailable(CronhookError):
    """The store (Redis) could not be reached or answered an error; transient."""


class BusUnavailable(CronhookError):
    """The bus (RabbitMQ) could not be reached or refused a publish; transient."""


class PoisonMessage(CronhookError):
    """A bus message that cannot be decoded; it is dead-lettered, never retried."""


class ConfigError(CronhookError):
    """The environment configures cronhook wrongly; the message names the variable."""
