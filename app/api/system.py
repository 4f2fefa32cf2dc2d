"""Health and the contract."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.api.contract import spec_text
from app.api.problems import problem
from app.api.state import ApiState
from app.observe import readiness


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    st = ApiState.of(request)
    checks = await readiness(st.store, st.bus)
    if all(v == "ok" for v in checks.values()):
        return JSONResponse({"status": "ok", "checks": checks})
    failing = ", ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok")
    return problem(503, f"not ready ({failing})", instance="/readyz")


async def openapi(request: Request) -> Response:
    return Response(spec_text(), media_type="application/yaml")


ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/openapi.yaml", openapi, methods=["GET"]),
]
