"""The web view of the case view: an HTML list and case page, and a JSON API (/api/cases, /api/cases/{id}).

Every page but /healthz needs a token (casehub.ground.access): `Authorization: Bearer <token>`, or the cookie that
/signin?token=... sets. The viewer role sees masked identities only; keyed hashes go to the integrator role."""

from __future__ import annotations

import asyncio
import html
import json

import sqlalchemy as sa
from aiohttp import web

from casehub.ground.access import COOKIE, SIGN_IN_PATH, Tokens, request_token, visible_to
from casehub.sinks.case_view import case_events, cases, create_engine, load_case

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid
#ccc;padding:4px 8px;text-align:left}}</style>
</head><body><h1>{title}</h1>{body}</body></html>"""


def _list(engine: sa.Engine, limit: int, stage: str | None) -> list[dict]:
    q = sa.select(
        cases.c.case_id,
        cases.c.version,
        cases.c.stage,
        cases.c.status,
        cases.c.updated_at,
        cases.c.group_dispute,
        cases.c.migrant_worker,
    )
    if stage:
        q = q.where(cases.c.stage == stage)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q.order_by(cases.c.updated_at.desc()).limit(limit))]


def _one(engine: sa.Engine, case_id: str):
    with engine.connect() as conn:
        record = load_case(conn, case_id)
        events = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(case_events)
                .where(case_events.c.case_id == case_id)
                .order_by(case_events.c.occurred_at, case_events.c.event_id)
            )
        ]
    return record, events


def _count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one()


SIGN_IN_HELP = (
    "Sign in with the link `casehub up` printed (it holds the operator token kept in CASEHUB_HOME/secrets/"
    "operator_token), or send `Authorization: Bearer <token>` with a token from CASEHUB_WEB_TOKENS."
)
OPEN_PATHS = ("/healthz", SIGN_IN_PATH)
ROLE = web.RequestKey("role", str) if hasattr(web, "RequestKey") else "role"  # aiohttp >= 3.14 wants a typed key


def _refused(request: web.Request) -> web.Response:
    if request.path.startswith("/api/"):
        return web.json_response({"error": "missing or unknown token", "help": SIGN_IN_HELP}, status=401)
    body = f"<p>This case view needs a token.</p><p>{html.escape(SIGN_IN_HELP)}</p>"
    return web.Response(text=PAGE.format(title="casehub: sign in", body=body), content_type="text/html", status=401)


def build_app(engine: sa.Engine, tokens: Tokens) -> web.Application:
    """The web view over a case-view engine; `tokens` are the only way in (no token, no page)."""
    routes = web.RouteTableDef()
    esc = lambda v: html.escape("" if v is None else str(v))  # noqa: E731

    @web.middleware
    async def signed_in(request, handler):
        if request.path in OPEN_PATHS:
            return await handler(request)
        role = tokens.role_of(request_token(request.headers, request.cookies))
        if role is None:
            return _refused(request)
        request[ROLE] = role
        return await handler(request)

    @routes.get(SIGN_IN_PATH)
    async def sign_in(request):
        token = request.query.get("token", "")
        if tokens.role_of(token) is None:
            return _refused(request)
        # the token moves into a cookie the page's scripts cannot read, and out of the address bar
        response = web.Response(status=303, headers={"Location": "/"})
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response

    @routes.get("/healthz")
    async def health(request):
        return web.json_response({"ok": True, "cases": await asyncio.to_thread(_count, engine)})

    @routes.get("/api/cases")
    async def api_list(request):
        try:
            limit = max(1, min(int(request.query.get("limit", "100")), 1000))
        except ValueError:
            return web.json_response({"error": "limit must be a whole number (1 to 1000)"}, status=400)
        rows = await asyncio.to_thread(_list, engine, limit, request.query.get("stage"))
        return web.json_response(
            visible_to(request[ROLE], rows), dumps=lambda o: json.dumps(o, default=str, ensure_ascii=False)
        )

    @routes.get("/api/cases/{case_id}")
    async def api_one(request):
        record, _ = await asyncio.to_thread(_one, engine, request.match_info["case_id"])
        if record is None:
            return web.json_response({"error": "case not found", "case_id": request.match_info["case_id"]}, status=404)
        return web.json_response(visible_to(request[ROLE], record), dumps=lambda o: json.dumps(o, ensure_ascii=False))

    @routes.get("/")
    async def index(request):
        rows = await asyncio.to_thread(_list, engine, 200, request.query.get("stage"))
        body = (
            "<p>Full-chain case view (全链条案件视图): newest first, 200 at most. JSON: <a "
            "href='/api/cases'>/api/cases</a></p>"
        )
        body += (
            "<table><tr><th>case</th><th>stage</th><th>status</th><th>version</th><th>updated</th><th>flags</th></tr>"
        )
        for r in rows:
            flags = " ".join(f for f, on in (("group", r["group_dispute"]), ("migrant", r["migrant_worker"])) if on)
            body += (
                "<tr><td><a "
                f"href='/cases/{esc(r['case_id'])}'>{esc(r['case_id'])}</a></td><td>{esc(r['stage'])}</td><td>{esc(r['status'])}</td><td>{esc(r['version'])}</td><td>{esc(r['updated_at'])}</td><td>{esc(flags)}</td></tr>"
            )
        body += "</table>"
        return web.Response(text=PAGE.format(title="casehub", body=body), content_type="text/html")

    @routes.get("/cases/{case_id}")
    async def case_page(request):
        record, events = await asyncio.to_thread(_one, engine, request.match_info["case_id"])
        if record is None:
            raise web.HTTPNotFound(text="case not found")
        body = (
            f"<p>stage {esc(record['stage'])}, status {esc(record['status'])}, version "
            f"{esc(record['version'])}</p><h2>References</h2><ul>"
        )
        body += "".join(
            f"<li>{esc(r['kind'])}: {esc(r['number'])} ({esc(r['system'])})</li>" for r in record.get("refs", [])
        )
        body += "</ul><h2>Parties</h2><ul>"
        body += "".join(
            f"<li>{esc(p['role'])}: {esc(p['name'])} {esc(p.get('id_masked') or p.get('credit_code') or '')}</li>"
            for p in record.get("parties", [])
        )
        body += "</ul><h2>Timeline</h2><table><tr><th>when</th><th>agency</th><th>event</th><th>source</th></tr>"
        body += "".join(
            f"<tr><td>{esc(e['occurred_at'])}</td><td>{esc(e['agency_kind'])}</td><td>{esc(e['event_type'])}</td>"
            f"<td>{esc(e['source_system'])} {esc(e['record_id'])}</td></tr>"
            for e in events
        )
        body += "</table>"
        return web.Response(
            text=PAGE.format(title=f"case {esc(record['case_id'])}", body=body), content_type="text/html"
        )

    app = web.Application(middlewares=[signed_in])
    app.add_routes(routes)
    return app


async def serve(url: str, host: str, port: int, tokens: Tokens) -> web.AppRunner:
    """Serve the web view; access_log stays off, so no sign-in link (and its token) is ever logged."""
    if not tokens:
        raise ValueError("the web view needs at least one token (CASEHUB_WEB_TOKENS)")
    runner = web.AppRunner(build_app(await asyncio.to_thread(create_engine, url), tokens), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
