"""The dashboard's routes: the overview, a page per team, the rows behind each chart, and login.

Pages are rendered on the server with Jinja2 and inline SVG, so the dashboard works without
JavaScript and without reaching any other host. Every page and every data route reads the
caller's `Access` and lets the ledger's reports limit the figures to the caller's team.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from headstart.ledger.db import Ledger
from headstart.ledger.errors import LedgerError, LedgerInputError
from headstart.ledger.reports import ReportScopeError, ReportSettings, report_options
from headstart.ledger.teams import TeamMap
from headstart.server.access import Access, RequestAccess, TokenPolicy
from headstart.server.auth import COOKIE_NAME
from headstart.server.dashboard.filters import Filters, parse_filters
from headstart.server.dashboard.panels import PANELS, Context, Panel
from headstart.server.ledger import LEDGER_FAILURES
from headstart.server.services import Services

logger = logging.getLogger("headstart.server.dashboard")

HERE = Path(__file__).parent
COOKIE_SECONDS = 12 * 3600
MAX_FORM_BYTES = 16 * 1024


def _templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def safe_next(target: str | None) -> str:
    """Return a redirect target inside the dashboard; anything else becomes the overview."""
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return "/dashboard"


def build_dashboard_router(services: Services, policy: TokenPolicy) -> APIRouter:
    """Build the `/dashboard` routes over the services' ledger; `policy` checks login tokens."""
    router = APIRouter(prefix="/dashboard", include_in_schema=False)
    templates = _templates()
    report_settings = ReportSettings.from_settings(services.settings)

    def render(name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**values), status_code=status_code)

    def error_page(exc: HTTPException, access: Access | None) -> HTMLResponse:
        logger.info("dashboard returned %d: %s", exc.status_code, exc.detail)
        title = {400: "Invalid filters", 403: "Not your team", 503: "Ledger unavailable"}.get(
            exc.status_code, "Error"
        )
        return render(
            "error.html",
            exc.status_code,
            title=title,
            detail=exc.detail,
            status=exc.status_code,
            access=access,
        )

    def open_ledger() -> Ledger:
        try:
            return services.ledger.get()
        except LedgerError as exc:
            logger.warning("dashboard cannot open the ledger: %s", exc)
            raise HTTPException(status_code=503, detail=str(exc)) from exc

    def build_panels(
        filters: Filters, access: Access, keys: list[str], *, options: bool = False
    ) -> tuple[list[Panel], tuple[list[str], list[str]]]:
        """Build the named panels, and the filter form's teams and tools when `options` is set.

        Panels run in parallel threads, each with its own session, so a page takes about as
        long as its slowest report rather than the sum of them. Panels that find the daily
        rollup behind wait for one another's rebuild (`reports.rollup.ensure_daily`), on SQLite
        as on PostgreSQL.
        """
        ledger = open_ledger()

        def build(key: str) -> Panel:
            with ledger.session() as session:
                context = Context(session, filters, access.team, budgets, report_settings)
                return PANELS[key](context)

        try:
            budgets = TeamMap.load(services.settings.teams_file).budgets
            with ThreadPoolExecutor(max_workers=len(keys), thread_name_prefix="dashboard") as pool:
                futures = [pool.submit(build, key) for key in keys]
                choices: tuple[list[str], list[str]] = ([], [])
                if options:
                    with ledger.session() as session:
                        found = report_options(session, access.team)
                    choices = (found.teams, found.tools)
                panels = [future.result() for future in futures]
        except ReportScopeError as exc:
            raise HTTPException(status_code=403, detail=str(exc)) from exc
        except LedgerInputError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        except LEDGER_FAILURES as exc:
            logger.warning("dashboard failed to read the ledger: %s", exc)
            raise HTTPException(
                status_code=503, detail=f"the ledger is unavailable: {exc}"
            ) from exc
        return panels, choices

    def page(
        request: Request, access: Access, team: str | None, action: str, title: str
    ) -> Response:
        try:
            filters = parse_filters(request.query_params).with_team(access.team_filter(team))
            panels, (teams, tools) = build_panels(filters, access, list(PANELS), options=True)
        except HTTPException as exc:
            return error_page(exc, access)
        return render(
            "page.html",
            title=title,
            access=access,
            filters=filters,
            params=filters.params(),
            action=action,
            panels=panels,
            teams=teams,
            tools=tools,
        )

    def scoped_filters(request: Request, access: Access, key: str) -> Filters:
        if key not in PANELS:
            raise HTTPException(
                status_code=404,
                detail=f"unknown chart {key!r}: expected one of {', '.join(PANELS)}",
            )
        filters = parse_filters(request.query_params)
        return filters.with_team(access.team_filter(filters.team))

    @router.get("")
    def overview(request: Request, access: RequestAccess) -> Response:
        # The overview spans every team. A team token, or a team picked in the filter form,
        # goes to that team's page with the other filters kept.
        team = access.team or request.query_params.get("team") or None
        if team is not None:
            query = urlencode(
                [(k, v) for k, v in request.query_params.multi_items() if k != "team" and v]
            )
            return RedirectResponse(
                f"/dashboard/teams/{quote(team, safe='')}" + (f"?{query}" if query else ""),
                status_code=303,
            )
        return page(request, access, None, "/dashboard", "All teams")

    @router.get("/teams/{team}")
    def team_page(team: str, request: Request, access: RequestAccess) -> Response:
        return page(request, access, team, "/dashboard", f"Team {team}")

    @router.get("/rows/{key}")
    def rows_page(key: str, request: Request, access: RequestAccess) -> Response:
        try:
            filters = scoped_filters(request, access, key)
            [panel], _options = build_panels(filters, access, [key])
        except HTTPException as exc:
            return error_page(exc, access)
        back = "/dashboard" + (f"/teams/{quote(filters.team, safe='')}" if filters.team else "")
        return render(
            "rows.html",
            title=f"{panel.title}: rows",
            access=access,
            key=key,
            table=panel.table,
            cells=panel.table.cells(),
            params=filters.params(),
            back=f"{back}?{filters.params(team=False)}#panel-{key}",
        )

    @router.get("/data/{key}.json")
    def rows_json(key: str, request: Request, access: RequestAccess) -> Response:
        filters = scoped_filters(request, access, key)
        [panel], _options = build_panels(filters, access, [key])
        return JSONResponse(
            {
                "chart": key,
                "filters": {
                    "start": filters.start.isoformat(),
                    "end": filters.end.isoformat(),
                    "granularity": filters.granularity.value,
                    "team": filters.team,
                    "tool": filters.tool,
                },
                "series": panel.chart.data,
                "columns": panel.table.columns,
                "rows": panel.table.records(),
            }
        )

    @router.get("/data/{key}.csv")
    def rows_csv(key: str, request: Request, access: RequestAccess) -> Response:
        filters = scoped_filters(request, access, key)
        [panel], _options = build_panels(filters, access, [key])
        return Response(
            panel.table.csv(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{key}.csv"'},
        )

    @router.get("/style.css")
    def style() -> Response:
        return Response((HERE / "style.css").read_text(encoding="utf-8"), media_type="text/css")

    _add_login_routes(router, policy, render)
    return router


def reject_cross_site(request: Request) -> None:
    """Raise 403 for a form posted from another site, which would sign a browser in or out.

    Browsers send `Origin` with every POST; scripts that send none are let through.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return
    if urlsplit(origin).netloc != request.headers.get("host"):
        logger.info("dashboard rejected a form posted from %r", origin)
        raise HTTPException(
            status_code=403,
            detail=f"the form was posted from {origin!r}, not from this server: sign in here",
        )


def _add_login_routes(
    router: APIRouter, policy: TokenPolicy, render: Callable[..., HTMLResponse]
) -> None:
    """Add the login form, its `?token=` shortcut, and logout, all outside the token check."""

    def signed_in(request: Request, token: str, target: str) -> Response:
        response = RedirectResponse(safe_next(target), status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            token,
            max_age=COOKIE_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    def rejected(target: str) -> HTMLResponse:
        return render(
            "login.html",
            401,
            title="Sign in",
            next=target,
            error="That token is not valid here: ask the server's administrator for yours.",
        )

    @router.get("/login")
    def login_form(request: Request, next: str | None = None, token: str | None = None) -> Response:
        target = safe_next(next)
        if not policy.enabled:
            return RedirectResponse(target, status_code=303)
        if token is None:
            return render("login.html", title="Sign in", next=target, error=None)
        # A link carrying ?token= is exchanged for the cookie at once, and the redirect drops
        # the token from the address bar and the history.
        if policy.resolve(token) is None:
            return rejected(target)
        return signed_in(request, token, target)

    @router.post("/login")
    async def login(request: Request) -> Response:
        reject_cross_site(request)
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(status_code=413, detail="the login form is larger than 16 KiB")
        form = parse_qs(body.decode("utf-8", errors="replace"))
        token = (form.get("token") or [""])[0].strip()
        target = safe_next((form.get("next") or [None])[0])
        if policy.resolve(token) is None:
            logger.info("dashboard login rejected from %s", request.client)
            return rejected(target)
        return signed_in(request, token, target)

    @router.post("/logout")
    def logout(request: Request) -> Response:
        reject_cross_site(request)
        response = RedirectResponse("/dashboard/login", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
        return response
