"""Forms to API bodies, and the API's field errors back onto the form's fields.

Only the form's own syntax (a header line without a colon) is checked here; every rule
about the values is the API's: a field that does not parse as the number it should be is
passed on as written, and the contract's check names it."""

from __future__ import annotations

import json
from typing import Any

from app.errors import FieldError

SCHEDULE_FIELDS = (
    "name",
    "cron",
    "timezone",
    "target.url",
    "target.method",
    "target.headers",
    "target.body",
    "target.timeout_seconds",
    "retry.max_attempts",
    "paused",
)
MESSAGE_FIELDS = (
    "target.url",
    "target.method",
    "target.headers",
    "target.body",
    "delay_seconds",
)


def _number(raw: str) -> Any:
    try:
        value = float(raw)
    except ValueError:
        return raw
    return int(value) if value.is_integer() and "." not in raw else value


def headers_of(text: str, errors: list[FieldError]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            errors.append(FieldError("target.headers", "write one header per line: Name: value"))
            continue
        out[name.strip()] = value.strip()
    return out


def headers_text(headers: dict[str, str] | None) -> str:
    return "\n".join(f"{k}: {v}" for k, v in (headers or {}).items())


def body_of(text: str) -> Any:
    """JSON when the text parses as JSON, else the text itself; empty is no body."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def body_text(body: Any) -> str:
    if body is None:
        return ""
    return body if isinstance(body, str) else json.dumps(body, indent=2, ensure_ascii=False)


def target_of(form: dict[str, str], errors: list[FieldError]) -> dict[str, Any]:
    target: dict[str, Any] = {
        "url": form.get("target.url", ""),
        "method": form.get("target.method") or "POST",
    }
    headers = headers_of(form.get("target.headers", ""), errors)
    if headers:
        target["headers"] = headers
    body = body_of(form.get("target.body", ""))
    if body is not None:
        target["body"] = body
    if form.get("target.timeout_seconds", "").strip():
        target["timeout_seconds"] = _number(form["target.timeout_seconds"].strip())
    return target


def schedule_of(form: dict[str, str], errors: list[FieldError]) -> dict[str, Any]:
    """A ScheduleCreate body from the schedule form."""
    body: dict[str, Any] = {
        "name": form.get("name", ""),
        "cron": form.get("cron", ""),
        "timezone": form.get("timezone", "").strip() or "UTC",
        "target": target_of(form, errors),
        "paused": form.get("paused") == "on",
    }
    if form.get("retry.max_attempts", "").strip():
        body["retry"] = {"max_attempts": _number(form["retry.max_attempts"].strip())}
    return body


def message_of(form: dict[str, str], errors: list[FieldError]) -> dict[str, Any]:
    """A MessageCreate body from the message form."""
    body: dict[str, Any] = {"target": target_of(form, errors)}
    if form.get("delay_seconds", "").strip():
        body["delay_seconds"] = _number(form["delay_seconds"].strip())
    return body


def schedule_form(s: dict[str, Any]) -> dict[str, str]:
    """A schedule as the API shows it, as the form's values."""
    target = s["target"]
    return {
        "name": s["name"],
        "cron": s["cron"],
        "timezone": s["timezone"],
        "target.url": target["url"],
        "target.method": target.get("method") or "POST",
        "target.headers": headers_text(target.get("headers")),
        "target.body": body_text(target.get("body")),
        "target.timeout_seconds": f"{target.get('timeout_seconds', 30):g}",
        "retry.max_attempts": str(s["retry"]["max_attempts"]),
        "paused": "on" if s["paused"] else "",
    }


def by_field(errors: list[FieldError], fields: tuple[str, ...]) -> dict[str, list[str]]:
    """Each error under the form field it belongs to (``target.headers.X-Y`` under
    ``target.headers``, ``target`` under ``target.url``); the rest under ``""``."""
    out: dict[str, list[str]] = {}
    for e in errors:
        home = next((f for f in fields if e.field == f or e.field.startswith(f + ".")), None)
        if home is None and e.field in ("target", "retry"):
            home = "target.url" if e.field == "target" else "retry.max_attempts"
        key = home or ""
        message = e.message if home else f"{e.field}: {e.message}"
        out.setdefault(key, []).append(message)
    return out
