"""HTML out: Jinja2 templates (every value escaped unless a template says otherwise, which
none does with tenant text) and the headers every page carries."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.api.contract import operation
from app.cron.words import describe
from app.models import parse_rfc3339

# No inline script or style anywhere: everything comes from /static, served by cronhook.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def when(value: str | None) -> str:
    """An RFC 3339 instant as people read it, to the second, in UTC."""
    if not value:
        return "—"
    try:
        return parse_rfc3339(value).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return value


def wall(value: str) -> str:
    """A local instant with its offset (``2030-03-31T03:00:00.000+02:00``) as people read
    it: ``2030-03-31 03:00:00 (UTC+02:00)``."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return value
    offset = dt.isoformat()[-6:] if dt.utcoffset() else "+00:00"
    return f"{dt:%Y-%m-%d %H:%M:%S} (UTC{offset})"


def has_operation(operation_id: str) -> bool:
    """Whether openapi.yaml has this operation (a page built on an operation that is not
    there yet has no route and no link)."""
    try:
        operation(operation_id)
    except KeyError:
        return False
    return True


# A fan-out's shard list (GET /v1/fires/{id}/shards) as a page of its own.
SHARD_PAGES = has_operation("listFireShards")

# A job's result is shown like a response excerpt: the first 1024 characters.
RESULT_CHARS = 1024


def result_text(value: Any) -> str:
    """A job's result document as compact JSON, cut to ``RESULT_CHARS`` (escaped by the
    template like any tenant text)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= RESULT_CHARS else text[:RESULT_CHARS] + "…"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("app.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["wall"] = wall
    env.filters["in_words"] = describe
    env.filters["result_text"] = result_text
    env.globals["shard_pages"] = SHARD_PAGES
    return env


def page(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    html = environment().get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)
