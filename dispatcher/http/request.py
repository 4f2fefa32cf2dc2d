"""Pure: a webhook request as the client writes it, and the URL checks made before any I/O.

:func:`checked_url` parses a URL once (cached per text: a schedule's fires share theirs)
into an :class:`Endpoint` -- the origin to connect to, the request target and the ``Host``
value -- or refuses it (``invalid_url``; ``ssrf_blocked`` for a forbidden IP literal in
any form, see :func:`app.ssrf.parse_host_literal`). :func:`request_bytes` writes the
request head and body into one buffer, refusing a header that would not go out as given
(:class:`InvalidRequest`) by the rule the API applies too (:mod:`app.headers`): a name
that is not an HTTP token, a value with a control character (CR and LF included, so
nothing can be injected).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from yarl import URL

from app.headers import is_token, unsendable
from app.ssrf import forbidden_reason, parse_host_literal
from dispatcher.http.pool import Origin

__all__ = ["Endpoint", "InvalidRequest", "checked_url", "request_bytes"]

_DROPPED_HEADERS: Final = frozenset({"content-length", "transfer-encoding", "user-agent"})


class InvalidRequest(ValueError):
    """The request cannot be written as given (error class ``invalid_request``)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A URL as the client sends to it: where to connect and the request's first lines."""

    origin: Origin
    path: str
    host_header: str


def request_bytes(
    method: str, target: Endpoint, tenant: Mapping[str, str], body: bytes, user_agent: str
) -> bytes:
    """The request head and body, as one buffer; ``InvalidRequest`` if a header is unfit."""
    lines = [f"{method} {target.path} HTTP/1.1"]
    has = set()
    for name, value in tenant.items():
        lowered = name.lower()
        if lowered in _DROPPED_HEADERS:
            continue
        if not is_token(name) or unsendable(value):
            raise InvalidRequest(f"header {name!r} cannot be sent as given")
        has.add(lowered)
        lines.append(f"{name}: {value}")
    if "host" not in has:
        lines.insert(1, f"Host: {target.host_header}")
    lines.append(f"User-Agent: {user_agent}")
    if "accept-encoding" not in has:
        lines.append("Accept-Encoding: identity")
    if "accept" not in has:
        lines.append("Accept: */*")
    lines.append(f"Content-Length: {len(body)}")
    if "content-type" not in has:
        lines.append("Content-Type: application/octet-stream")
    lines.append("\r\n")
    return "\r\n".join(lines).encode() + body


@lru_cache(maxsize=4096)
def checked_url(url: str, *, allow_private: bool) -> tuple[Endpoint | None, str | None]:
    """Where to send, or None and ``invalid_url`` / ``ssrf_blocked`` for URLs refused
    before any I/O. Pure, so kept per URL text (a schedule's fires share theirs): the
    resolved address of a host name is still checked on every connection."""
    try:
        parsed = URL(url)
        port = parsed.port
        host_header = parsed.host_port_subcomponent
    except (ValueError, TypeError):
        return None, "invalid_url"
    raw_host = parsed.raw_host
    if parsed.scheme not in ("http", "https") or not raw_host or not host_header:
        return None, "invalid_url"
    if port is None or not 0 < port <= 65535 or parsed.user is not None:
        return None, "invalid_url"  # credentials in the URL are refused at write time too
    target = Endpoint(Origin(parsed.scheme, raw_host, port), parsed.raw_path_qs, host_header)
    if "\r" in target.path or "\n" in target.path or " " in target.path:
        return None, "invalid_url"
    if allow_private:
        return target, None
    ip = parse_host_literal(raw_host)
    if ip is not None and forbidden_reason(ip) is not None:
        return None, "ssrf_blocked"
    return target, None
