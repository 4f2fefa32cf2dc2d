"""Health and the contract (``/metrics`` is in observability.py)."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from app.api.contract import spec_text
from app.api.guard import Ctx, endpoint, route
from app.api.problems import problem
from app.observe import backends, readiness


@endpoint("healthz", "public")
async def healthz(ctx: Ctx) -> Response:
    return JSONResponse({"status": "ok"})


@endpoint("readyz", "public")
async def readyz(ctx: Ctx) -> Response:
    checks = await readiness(ctx.store, ctx.st.bus)
    if all(v == "ok" for v in checks.values()):
        runs = backends(ctx.store, ctx.st.bus)
        return JSONResponse({"status": "ok", "checks": checks, "backends": runs})
    failing = ", ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok")
    return problem(503, f"not ready ({failing})", instance="/readyz", headers={"Retry-After": "1"})


@endpoint("openapi", "public")
async def openapi(ctx: Ctx) -> Response:
    return Response(spec_text(), media_type="application/yaml")


ROUTES = [
    route("/healthz", GET=healthz),
    route("/readyz", GET=readyz),
    route("/openapi.yaml", GET=openapi),
]
