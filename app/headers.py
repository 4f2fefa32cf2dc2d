"""The rule for the headers a tenant sets on its webhook requests: one home.

The API checks a target's headers and ``content_type`` with :func:`header_error` and
:func:`value_error` when it is written; the webhook client checks every header it writes with
:func:`is_token` and :func:`unsendable`; ``openapi.yaml`` (``HeaderMap``, ``content_type``)
states the same with patterns that ``tests/unit/test_headers.py`` checks against these.

- A name is an RFC 9110 token: letters, digits and ``!#$%&'*+-.^_`|~``.
- A value has no control character but tab: no CR, LF or NUL (nothing can be injected),
  no ESC, no DEL. Other characters, UTF-8 included, are sent as they are.
- Names that cronhook or the connection sets are not the tenant's (:data:`RESERVED`, any
  ``webhook-*`` or ``cronhook-*``).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "RESERVED",
    "RESERVED_PREFIXES",
    "header_error",
    "is_token",
    "unsendable",
    "value_error",
]

_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

RESERVED: Final = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "idempotency-key",
        "user-agent",
        "te",
        "upgrade",
        "trailer",
        "expect",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
    }
)
"""Header names (lower case) set by cronhook or by the connection, never by a tenant."""
RESERVED_PREFIXES: Final = ("webhook-", "cronhook-")


def is_token(name: str) -> bool:
    """True if ``name`` may be a header name (an RFC 9110 token)."""
    return _TOKEN.fullmatch(name) is not None


def unsendable(value: str) -> bool:
    """True if ``value`` has a character no header value may carry (CR, LF, NUL, ...)."""
    return _CONTROL.search(value) is not None


def value_error(value: str) -> str | None:
    """Why ``value`` cannot be a header value, in words; None if it can."""
    return "has a control character (only tab is allowed)" if unsendable(value) else None


def header_error(name: str, value: str) -> str | None:
    """Why a tenant may not set header ``name: value``, in words; None if it may."""
    if not is_token(name):
        return "is not a header name: letters, digits and !#$%&'*+-.^_`|~ only"
    lowered = name.lower()
    if lowered in RESERVED or lowered.startswith(RESERVED_PREFIXES):
        return "is set by cronhook and cannot be overridden"
    return value_error(value)
