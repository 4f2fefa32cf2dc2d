"""Every route goes through here: authenticate (401/403), the API key's rate limit (429),
the contract's query parameters (422), and for POSTs the Idempotency-Key.

The pages (app/web) run the very same handlers through :func:`invoke`, with the principal
of their browser session and the body their form gave: one implementation of every rule."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.api.auth import Principal, authenticate
from app.api.contract import Operation, check, operation, parse_query
from app.api.idempotency import idempotent
from app.api.problems import ApiProblem
from app.api.requests import json_body, json_document
from app.api.state import ApiState
from app.errors import NotFound
from app.models import Tenant
from app.store import Store

# "job": a long job's report; the handler checks the job token itself (app/api/jobs.py)
Who = Literal["public", "admin", "tenant", "job"]
_ID = re.compile(r"^[a-z]+_[0-9a-z]{1,40}$")


@dataclass(frozen=True)
class Ctx:
    """One request as a handler sees it: who asks, the typed query, the body on demand."""

    request: Request
    st: ApiState
    op: Operation
    principal: Principal
    query: dict[str, Any]
    given: dict[str, Any] | None = None  # a page's body, instead of the request's JSON
    path: Mapping[str, str] | None = None  # a page's path ids, instead of the request's

    @property
    def store(self) -> Store:
        return self.st.store

    @property
    def tenant(self) -> Tenant:
        assert self.principal.tenant is not None
        return self.principal.tenant

    def now_ms(self) -> int:
        return self.st.now_ms()

    def path_id(self, name: str) -> str:
        """A path id; one that cannot exist answers 404 like one that does not."""
        params = self.request.path_params if self.path is None else self.path
        value = str(params.get(name, ""))
        if not _ID.match(value):
            raise NotFound(f"no such {name.removesuffix('_id').replace('_', ' ')}")
        return value

    async def body(self) -> dict[str, Any]:
        if self.given is None:
            return await json_body(self.request, self.op)
        if self.op.body_pointer is not None:
            check(self.op.body_pointer, self.given)
        return self.given

    async def document(self) -> dict[str, Any]:
        """The body as a JSON object, its schema not checked yet (see ``contract_errors``);
        a page's body (``invoke``) as the page gave it."""
        if self.given is not None:
            return self.given
        return await json_document(self.request, self.op)


Handler = Callable[[Ctx], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
_HANDLERS: dict[str, tuple[Operation, Handler, Who]] = {}


async def _principal(request: Request, st: ApiState, who: Who) -> Principal:
    if who in ("public", "job"):
        return Principal(admin=False, tenant=None)
    p = await authenticate(request, st.store, st.settings.admin_token)
    if who == "admin" and not p.admin:
        raise ApiProblem(403, "this route needs the operator's admin token")
    if who == "tenant" and p.tenant is None:
        raise ApiProblem(403, "this route needs a tenant API key, not the admin token")
    return p


async def _rate_limit(st: ApiState, p: Principal) -> None:
    if p.tenant is None or p.key_id is None:
        return
    limit = p.tenant.limits.api_rate_limit
    decision = await st.store.guards.take(p.tenant.id, p.key_id, limit.per_second, limit.burst)
    if not decision.allowed:
        seconds = max(1, math.ceil(decision.retry_after_ms / 1000))
        raise ApiProblem(
            429,
            f"this API key is over its rate limit of {limit.per_second:g}/s "
            f"(burst {limit.burst}); retry in {seconds}s",
            headers={"Retry-After": str(seconds)},
        )


def endpoint(operation_id: str, who: Who) -> Callable[[Handler], Endpoint]:
    """Wrap a handler for the contract's operation ``operation_id``."""
    op = operation(operation_id)

    def wrap(handler: Handler) -> Endpoint:
        _HANDLERS[operation_id] = (op, handler, who)

        async def run(request: Request) -> Response:
            st = ApiState.of(request)
            principal = await _principal(request, st, who)
            await _rate_limit(st, principal)
            ctx = Ctx(request, st, op, principal, parse_query(op, request.query_params))
            if request.method == "POST" and who != "job":  # a job report is idempotent
                return await idempotent(ctx.request, st.store, principal, lambda: handler(ctx))
            return await handler(ctx)

        run.__name__ = handler.__name__
        run.__doc__ = handler.__doc__
        return run

    return wrap


async def invoke(
    operation_id: str,
    request: Request,
    principal: Principal,
    *,
    body: dict[str, Any] | None = None,
    query: Mapping[str, str] | None = None,
    path: Mapping[str, str] | None = None,
) -> Response:
    """Run the operation's handler for a page: ``principal`` comes from a browser session
    (its CSRF token already checked), ``body`` from a form, ``query`` as the API would take
    it, ``path`` the ids the API's path would carry (default: the page's own path
    parameters). Raises what the handler raises."""
    op, handler, who = _HANDLERS[operation_id]
    if who == "admin" and not principal.admin:
        raise ApiProblem(403, "this page needs an operator session")
    if who == "tenant" and principal.tenant is None:
        raise ApiProblem(403, "this page needs a tenant session")
    params = parse_query(op, QueryParams(dict(query or {})))
    ctx = Ctx(request, ApiState.of(request), op, principal, params, body or {}, path)
    return await handler(ctx)


def route(path: str, **methods: Endpoint) -> Route:
    """One route per path (so 405 answers list every method in Allow)."""

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await methods[method](request)

    return Route(path, dispatch, methods=list(methods))
