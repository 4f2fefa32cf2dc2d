"""Reading request bodies: JSON only (415 otherwise), bounded in size (413)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from app.api.contract import check, parse_json
from app.api.problems import ApiProblem

MAX_BODY_BYTES = 1_048_576


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
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
    return b"".join(chunks)


async def json_body(request: Request, schema: str) -> dict[str, Any]:
    """The request's JSON object, validated against ``schema`` of the contract."""
    ctype = request.headers.get("content-type", "")
    media = ctype.split(";", 1)[0].strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise ApiProblem(415, "send the body as application/json")
    data = parse_json(await read_body(request))
    check(schema, data)
    assert isinstance(data, dict)
    return data
