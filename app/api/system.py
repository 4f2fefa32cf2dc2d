"""Health and the contract."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.api.contract import spec_text
from app.api.problems import problem
from app.api.state import ApiState


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    st = ApiState.of(request)
    if await st.store.ping():
        return JSONResponse({"status": "ok", "checks": {"redis": "ok"}})
    return problem(503, "Redis is not reachable", instance="/readyz")


async def openapi(request: Request) -> Response:
    return Response(spec_text(), media_type="application/yaml")


ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/openapi.yaml", openapi, methods=["GET"]),
]
