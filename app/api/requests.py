"""Reading request bodies: JSON only (415 otherwise), bounded in size (413), parsed (400)
and validated against the operation's schema (422)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from app.api.contract import Operation, check, parse_json
from app.api.problems import ApiProblem
from app.errors import FieldError

MAX_BODY_BYTES = 1_048_576


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, at most ``limit`` bytes (413 beyond); read once, then cached."""
    cached: bytes | None = getattr(request.state, "raw_body", None)
    if cached is not None:
        return cached
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiProblem(413, f"request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiProblem(413, f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    request.state.raw_body = b"".join(chunks)
    return request.state.raw_body  # type: ignore[no-any-return]


def _is_json(ctype: str) -> bool:
    media = ctype.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def json_body(request: Request, op: Operation) -> dict[str, Any]:
    """The request's JSON object, validated against the operation's body schema. An
    optional body may be left out entirely (then ``{}``)."""
    data = await json_document(request, op)
    if op.body_pointer is not None:
        check(op.body_pointer, data)
    return data


async def json_document(request: Request, op: Operation) -> dict[str, Any]:
    """The request's JSON object, not yet checked against the schema beyond being an
    object: for handlers that report the schema's errors together with their own rules'."""
    raw = await read_body(request)
    if op.body_pointer is None:
        return {}
    if not raw.strip() and not op.body_required:
        return {}
    if not _is_json(request.headers.get("content-type", "")):
        raise ApiProblem(415, "send the body as application/json")
    try:
        data = parse_json(raw)
    except (ValueError, UnicodeDecodeError) as e:
        msg = f"is not valid JSON: {e}"
        raise ApiProblem(400, f"body: {msg}", errors=[FieldError("body", msg)]) from e
    if not isinstance(data, dict):
        check(op.body_pointer, data)
    assert isinstance(data, dict)
    return data
