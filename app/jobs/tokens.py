"""A job's identity, its URL on the public API, and its per-attempt bearer tokens.

A token is ``cjt.<tenant id>.<attempt>.<secret>``: the tenant and the attempt say where to
look, the secret (192 random bits) is the proof. Only a hash of the whole token is stored,
in the job's hash under its attempt (``job_start.lua``), so a token works for that one job
and attempt of that one tenant, and a token of an older attempt is still recognised (to be
answered 409, not 401).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

PREFIX = "cjt"
_TOKEN = re.compile(r"^cjt\.([a-z]+_[0-9a-z]{1,40})\.([1-9][0-9]{0,5})\.([A-Za-z0-9_-]{32})$")


@dataclass(frozen=True)
class JobRef:
    """One delivery that may be a long job: a fire (a fan-out's shard is a fire of its own,
    docs/fanout.md). The job's state is keyed by ``id`` and its attempt number."""

    fire_id: str

    @property
    def id(self) -> str:
        return self.fire_id

    @property
    def path(self) -> str:
        """The job resource on the public API (progress and complete hang below it)."""
        return f"/v1/fires/{self.fire_id}/job"

    def url(self, public_url: str) -> str:
        return public_url.rstrip("/") + self.path


@dataclass(frozen=True)
class JobToken:
    tenant_id: str
    attempt: int
    hash: str


def mint_token(tenant_id: str, attempt: int) -> str:
    return f"{PREFIX}.{tenant_id}.{attempt}.{secrets.token_urlsafe(24)}"


def token_hash(token: str) -> str:
    """128 bits of SHA-256: what the job hash stores and compares."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def parse_token(token: str) -> JobToken | None:
    """The tenant and attempt a well-formed token names (None: not a job token)."""
    m = _TOKEN.match(token)
    if m is None:
        return None
    return JobToken(m.group(1), int(m.group(2)), token_hash(token))


def signed_content(job_url: str, token: str) -> bytes:
    """What ``cronhook-job-signature`` signs, Standard Webhooks style (``id.timestamp.``
    this), with the tenant's signing secrets: the receiver can trust both headers."""
    return f"{job_url}\n{token}".encode()
