"""RFC 9457 problem+json responses; the only place errors become HTTP."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.errors import (
    Conflict,
    FieldError,
    NotFound,
    QuotaExceeded,
    StoreUnavailable,
    ValidationFailed,
)

log = logging.getLogger("cronhook.api")

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "rate-limited",
    500: "internal",
    503: "unavailable",
}


class ApiProblem(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


def problem_body(
    status: int,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    instance: str | None = None,
) -> dict[str, Any]:
    """The problem document (RFC 9457) of a response, or of one item of a bulk request."""
    body: dict[str, Any] = {
        "type": f"https://cronhook.dev/problems/{SLUGS.get(status, 'error')}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    return body


def problem(
    status: int,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
) -> Response:
    body = problem_body(status, detail, errors=errors, instance=instance)
    return Response(
        json.dumps(body), status_code=status, headers=headers, media_type="application/problem+json"
    )


async def on_api_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    return problem(
        exc.status, exc.detail, errors=exc.errors, headers=exc.headers, instance=request.url.path
    )


async def on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationFailed)
    return problem(422, exc.detail, errors=exc.errors, instance=request.url.path)


async def on_not_found(request: Request, exc: Exception) -> Response:
    return problem(404, str(exc) or "not found", instance=request.url.path)


async def on_conflict(request: Request, exc: Exception) -> Response:
    return problem(409, str(exc), instance=request.url.path)


async def on_quota(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QuotaExceeded)
    errors = [FieldError(exc.field, exc.detail)] if exc.field else None
    return problem(422, exc.detail, errors=errors, instance=request.url.path)


async def on_store_down(request: Request, exc: Exception) -> Response:
    log.warning("store unavailable: %s", exc)
    return problem(
        503,
        "the store is unavailable; try again",
        headers={"Retry-After": "1"},
        instance=request.url.path,
    )


async def on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem(
        exc.status_code, str(exc.detail), headers=dict(exc.headers or {}), instance=request.url.path
    )


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, "unexpected error", instance=request.url.path)


HANDLERS: dict[Any, Any] = {
    ApiProblem: on_api_problem,
    ValidationFailed: on_validation,
    NotFound: on_not_found,
    Conflict: on_conflict,
    QuotaExceeded: on_quota,
    StoreUnavailable: on_store_down,
    HTTPException: on_http,
    Exception: on_unexpected,
}
