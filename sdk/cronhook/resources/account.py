"""The tenant's own things: who it is (`client.tenant`), its signing secret
(`client.signing_secret`), its live events (`client.events`), its load ahead
(`client.forecast`) and sign-in links to its portal (`client.portal`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from cronhook import _protocol as p
from cronhook._protocol import EVENT_STREAM_MEDIA, Call
from cronhook._resource import M, Resource, endpoint, streamed
from cronhook.models import CurrentTenant, Forecast, RotatedSecret, SignInLink

__all__ = ["Events", "ForecastResource", "Portal", "SigningSecret", "TenantResource"]


def _whoami() -> Call[CurrentTenant]:
    """The tenant of this API key: limits, usage, the key's id, the active signing
    secrets (by prefix)."""
    return p.get("/v1/tenant", p.model(CurrentTenant))


def _rotate(
    *, overlap: int | timedelta | None = None, idempotency_key: str | None = None
) -> Call[RotatedSecret]:
    """A new signing secret (shown once). The previous ones keep signing beside it for
    `overlap` (seconds or a timedelta; server default 24 h); 0 drops them at once."""
    seconds = int(overlap.total_seconds()) if isinstance(overlap, timedelta) else overlap
    payload = p.body(overlap_seconds=seconds)
    return p.post(
        "/v1/signing-secret/rotate",
        p.model(RotatedSecret),
        payload,
        idempotency_key=idempotency_key,
    )


def _events(*, types: Sequence[str] | None = None, schedule_id: str | None = None) -> Call[None]:
    """The live stream of this tenant's fire events (`fire.dispatched`, `attempt.finished`,
    `fire.succeeded`, `fire.failed`), optionally only some `types` or one schedule's.
    Connects on `with`/`async with` (or the first iteration); live only, no history."""
    params = p.query(types=",".join(types) if types else None, schedule_id=schedule_id)
    return p.get("/v1/events", p.nothing, params, accept=EVENT_STREAM_MEDIA)


def _forecast(*, hours: int | None = None, start: datetime | None = None) -> Call[Forecast]:
    """Exact fires per UTC minute for the next `hours` (1-24, default 1) from `start`
    (default the current minute), from this tenant's active schedules."""
    return p.get("/v1/forecast", p.model(Forecast), p.query(hours=hours, start=start))


def lifetime(expires_in: int | timedelta | None) -> int | None:
    """Seconds, from seconds or a timedelta."""
    if isinstance(expires_in, timedelta):
        return int(expires_in.total_seconds())
    return expires_in


def _portal_link(
    *,
    read_only: bool | None = None,
    expires_in: int | timedelta | None = None,
    idempotency_key: str | None = None,
) -> Call[SignInLink]:
    """A single-use link that signs a browser into this tenant's portal, optionally
    `read_only`, valid for `expires_in` (seconds or a timedelta; server default 15 min)."""
    payload = p.body(read_only=read_only, expires_in_seconds=lifetime(expires_in))
    return p.post("/v1/portal-links", p.model(SignInLink), payload, idempotency_key=idempotency_key)


class TenantResource(Resource[M]):
    """Who am I: `client.tenant.get()`."""

    get = endpoint(_whoami)


class SigningSecret(Resource[M]):
    """`client.signing_secret.rotate()`."""

    rotate = endpoint(_rotate)


class Events(Resource[M]):
    """`client.events.stream()`: live fire events."""

    stream = streamed(_events)


class ForecastResource(Resource[M]):
    """`client.forecast.get()`: load ahead, exactly."""

    get = endpoint(_forecast)


class Portal(Resource[M]):
    """`client.portal.link()`: a sign-in link to this tenant's web portal."""

    link = endpoint(_portal_link)
