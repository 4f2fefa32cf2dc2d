"""The one header rule (``app.headers``): what a tenant may set on its webhook requests, the
same at the API, at send time and in ``openapi.yaml``. From tables, and every character of
the first 256 code points checked against the contract's patterns."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.api.contract import spec
from app.headers import header_error, is_token, unsendable
from dispatcher.http.pool import Origin
from dispatcher.http.request import Endpoint, InvalidRequest, request_bytes

NAME_ERROR = "is not a header name: letters, digits and !#$%&'*+-.^_`|~ only"
RESERVED = "is set by cronhook and cannot be overridden"
VALUE_ERROR = "has a control character (only tab is allowed)"


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("X-Api-Key", "s3cr3t", None),
        ("Accept", "text/html,application/json;q=0.9", None),
        ("X-Tab", "a\tb", None),
        ("X-Utf8", "wörld ✓", None),
        ("x!#$%&'*+.^_`|~9", "v", None),
        ("X-Empty", "", None),
        ("X-A", "a\x01b", VALUE_ERROR),
        ("X-A", "a\r\nX-B: b", VALUE_ERROR),
        ("X-A", "a\nb", VALUE_ERROR),
        ("X-A", "a\x00", VALUE_ERROR),
        ("X-A", "a\x1b[31m", VALUE_ERROR),
        ("X-A", "a\x7f", VALUE_ERROR),
        ("X A", "v", NAME_ERROR),
        ("X-A:", "v", NAME_ERROR),
        ("", "v", NAME_ERROR),
        ("X-Ä", "v", NAME_ERROR),
        ("Host", "evil.example", RESERVED),
        ("content-length", "1", RESERVED),
        ("Transfer-Encoding", "chunked", RESERVED),
        ("Idempotency-Key", "k", RESERVED),
        ("User-Agent", "me", RESERVED),
        ("Webhook-Signature", "v1,x", RESERVED),
        ("CRONHOOK-attempt", "9", RESERVED),
    ],
)
def test_a_tenant_header_from_a_table(name: str, value: str, error: str | None) -> None:
    assert header_error(name, value) == error


_ENDPOINT = Endpoint(Origin("http", "127.0.0.1", 80), "/", "127.0.0.1")


@pytest.mark.parametrize("code", range(256))
def test_the_sender_refuses_exactly_what_the_rule_refuses(code: int) -> None:
    value, name = f"a{chr(code)}b", f"X{chr(code)}"
    for headers, refused in (
        ({"X-A": value}, unsendable(value)),
        ({name: "v"}, not is_token(name)),
    ):
        if refused:
            with pytest.raises(InvalidRequest):
                request_bytes("POST", _ENDPOINT, headers, b"", "ua")
        else:
            assert request_bytes("POST", _ENDPOINT, headers, b"", "ua").startswith(b"POST / ")


def _ecma(pattern: str) -> re.Pattern[str]:
    """A contract pattern as JSON Schema (ECMA-262) reads it: ``$`` is the very end, where
    Python's also matches before a final newline."""
    assert pattern.endswith("$")
    return re.compile(pattern[:-1] + r"\Z")


def _header_map() -> dict[str, Any]:
    schema: dict[str, Any] = spec()["components"]["schemas"]["HeaderMap"]
    return schema


@pytest.mark.parametrize("code", [*range(256), 0x2028, 0xFEFF, 0x1F600])
def test_openapi_states_the_rule(code: int) -> None:
    schema = _header_map()
    name_pattern = _ecma(schema["propertyNames"]["pattern"])
    value_pattern = _ecma(schema["additionalProperties"]["pattern"])
    value, name = f"a{chr(code)}b", f"X{chr(code)}"
    assert (value_pattern.search(value) is not None) == (not unsendable(value))
    assert (name_pattern.search(name) is not None) == is_token(name)


def test_content_type_follows_the_value_rule_in_openapi() -> None:
    target = spec()["components"]["schemas"]["Target"]
    header_map = _header_map()
    assert (
        target["properties"]["content_type"]["pattern"]
        == (header_map["additionalProperties"]["pattern"])
    )
