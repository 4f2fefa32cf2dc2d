"""Browser sessions of the portal and the console: sign-in by link, the session cookie,
CSRF on every state-changing form, and the one wrapper every page goes through.

A page handler gets a :class:`Visit`: the session and the API principal it stands for
(a tenant, or the operator), and for POSTs the form, its CSRF token already checked.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.api.auth import Principal
from app.api.links import public_base
from app.api.problems import ApiProblem
from app.api.requests import read_body
from app.api.state import ApiState
from app.errors import Conflict, NotFound
from app.models import Tenant
from app.store import Store
from app.store.websessions import Area, Grant, WebSession
from app.web.render import HEADERS, page

SESSION_TTL_MS = 8 * 3600 * 1000
FORM_LIMIT = 256 * 1024
COOKIES: dict[Area, str] = {"portal": "cronhook_portal", "console": "cronhook_console"}
HOMES: dict[Area, str] = {"portal": "/portal", "console": "/console"}


@dataclass(frozen=True)
class Visit:
    request: Request
    session: WebSession
    principal: Principal
    form: dict[str, str]

    @property
    def area(self) -> Area:
        return self.session.grant.area

    @property
    def tenant(self) -> Tenant:
        assert self.principal.tenant is not None
        return self.principal.tenant

    @property
    def store(self) -> Store:
        return ApiState.of(self.request).store

    @property
    def read_only(self) -> bool:
        return self.session.grant.read_only

    def list_query(self) -> dict[str, str]:
        """The API query of a listing page: 50 a page, from the page's ``cursor`` if any."""
        query = {"limit": "50"}
        if self.request.query_params.get("cursor"):
            query["cursor"] = self.request.query_params["cursor"]
        return query

    def context(self, **values: Any) -> dict[str, Any]:
        """What every template gets: who is signed in and the CSRF token for forms."""
        return {
            "area": self.area,
            "tenant": self.principal.tenant,
            "read_only": self.read_only,
            "csrf": self.session.csrf,
            **values,
        }


def _secure(request: Request) -> bool:
    return public_base(request, ApiState.of(request).settings).startswith("https://")


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    return page(request, "error.html", {"title": title, "detail": detail}, status)


async def sign_in(request: Request, area: Area) -> Response:
    """``GET /portal/sign-in?token=`` (or /console/...): the link's token for a session
    cookie, once; then a redirect to a URL without the token."""
    st = ApiState.of(request)
    token = request.query_params.get("token", "")
    grant = await st.store.web.take_link(token) if token else None
    tid = grant.tenant_id if grant is not None else None
    if tid is not None and await st.store.records.get_tenant(tid) is None:
        grant = None
    if grant is None or grant.area != area:
        detail = "This sign-in link is unknown, expired or already used. Ask for a new one."
        return error_page(request, 410, "Link expired", detail)
    cookie, _ = await st.store.web.open(grant, st.now_ms(), SESSION_TTL_MS)
    response = RedirectResponse(HOMES[area], status_code=303, headers=HEADERS)
    response.set_cookie(
        COOKIES[area],
        cookie,
        max_age=SESSION_TTL_MS // 1000,
        path=HOMES[area],
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )
    return response


async def _session(request: Request, area: Area) -> tuple[str, WebSession] | None:
    cookie = request.cookies.get(COOKIES[area])
    if not cookie:
        return None
    session = await ApiState.of(request).store.web.get(cookie)
    if session is None or session.grant.area != area:
        return None
    return cookie, session


async def _principal(request: Request, grant: Grant) -> Principal | None:
    if grant.area == "console":
        return Principal(admin=True, tenant=None)
    assert grant.tenant_id is not None
    tenant = await ApiState.of(request).store.records.get_tenant(grant.tenant_id)
    return None if tenant is None else Principal(admin=False, tenant=tenant)


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form (what every form here posts); a name given twice keeps the last."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise ApiProblem(415, "send the form as application/x-www-form-urlencoded")
    raw = await read_body(request, FORM_LIMIT)
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise ApiProblem(400, "the form is not UTF-8") from None


def _csrf_ok(form: dict[str, str], session: WebSession) -> bool:
    return hmac.compare_digest(form.get("csrf", "").encode(), session.csrf.encode())


PageHandler = Callable[[Visit], Awaitable[Response]]


def web_page(area: Area, *, writes: bool = False) -> Callable[[PageHandler], Any]:
    """A page of ``area``: a live session or 401; on POST a valid CSRF token or 403;
    ``writes`` pages (their forms too) refuse read-only sessions (403). The API's
    404/409/4xx become pages."""

    def wrap(handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            found = await _session(request, area)
            principal = found and await _principal(request, found[1].grant)
            if found is None or principal is None:
                detail = "Open a fresh sign-in link to continue."
                return error_page(request, 401, "Signed out", detail)
            form: dict[str, str] = {}
            if request.method == "POST":
                try:
                    form = await read_form(request)
                except ApiProblem as e:
                    return error_page(request, e.status, "Bad form", e.detail)
                if not _csrf_ok(form, found[1]):
                    detail = "The form had no valid CSRF token. Reload the page and try again."
                    return error_page(request, 403, "Refused", detail)
            if writes and found[1].grant.read_only:
                detail = "This session is read-only: it can look but not change anything."
                return error_page(request, 403, "Read-only", detail)
            try:
                return await handler(Visit(request, found[1], principal, form))
            except NotFound as e:
                return error_page(request, 404, "Not found", str(e) or "Not found.")
            except Conflict as e:
                return error_page(request, 409, "Conflict", str(e))
            except ApiProblem as e:
                return error_page(request, e.status, "Refused", e.detail)

        run.__name__ = handler.__name__
        return run

    return wrap


async def sign_out(request: Request, area: Area) -> Response:
    """``POST /portal/sign-out`` (CSRF-checked): the session ends here and in the store."""
    found = await _session(request, area)
    if found is not None:
        try:
            form = await read_form(request)
        except ApiProblem as e:
            return error_page(request, e.status, "Bad form", e.detail)
        if not _csrf_ok(form, found[1]):
            return error_page(request, 403, "Refused", "The form had no valid CSRF token.")
        await ApiState.of(request).store.web.close(found[0])
    response = page(request, "signed_out.html", {})
    response.delete_cookie(COOKIES[area], path=HOMES[area], secure=_secure(request), httponly=True)
    return response
