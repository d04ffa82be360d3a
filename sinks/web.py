"""The case view's web page and JSON API (FastAPI, one process: pages, API, OpenAPI at /openapi.json) and the
courts' callback endpoint.

Every page and API route but /healthz needs a token of a role (casehub.ground.access): operator, viewer, integrator
(an agency integrator), court (its own requests only). The API takes `Authorization: Bearer <token>`; the pages take
the same token once at /signin?token=... and keep it in an HttpOnly cookie. Without a valid token: 401. The view holds
masked forms and hashes only; viewers and courts get no *_hash field either.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlencode

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, ValidationError, field_validator

from casehub.domain.confirmation import REINSTATED
from casehub.domain.deadlines import local_date
from casehub.ground.access import COOKIE, SIGN_IN_PATH, Access, Role, request_token, visible_to
from casehub.ground.logs import get_logger
from casehub.sinks import web_labels as labels
from casehub.sinks import web_queries as wq
from casehub.sinks.callbacks import CallbackError, Callbacks
from casehub.sinks.case_view import apply_log_entry, load_case, to_json
from casehub.sinks.confirmation_relay import resend_entry
from casehub.sinks.web_timeline import days_left, local, svg

READERS = ("operator", "viewer", "integrator")
SIGN_IN_HELP = (
    "Sign in with the link `casehub up` printed (it holds the operator token kept in CASEHUB_HOME/secrets/"
    "operator_token), or send `Authorization: Bearer <token>` with a token from CASEHUB_WEB_TOKENS."
)
OPERATOR_ROWS = 500  # requests on the operator page: the ones needing attention first (all: GET /api/confirmations)
MAX_PAGE = 100_000  # pages of a list: beyond any view's size, within every database's integers
YES, NO = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}
STAGES = ("NEGOTIATION", "MEDIATION", "PRE_ARBITRATION_MEDIATION", "ARBITRATION", "LITIGATION")
STAGES += ("JUDICIAL_CONFIRMATION", "ENFORCEMENT", "INSPECTION", "CLOSED")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
TEMPLATES.env.filters["local"] = local  # records carry UTC; a clerk reads China time


def page_link(f: wq.Filters, number: int) -> str:
    """The list's address for another page: every filter kept (and the page size), each value URL-encoded."""
    kept = {k: v for k, v in dataclasses.asdict(f).items() if v not in (None, "") and k != "page"}
    kept = {k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in kept.items()}
    return "/?" + urlencode({**kept, "page": number})


def fen(value) -> str:
    if not isinstance(value, int):  # None, or a missing field in a template
        return ""
    return f"¥{value // 100:,}.{value % 100:02d}"


class Correction(BaseModel):
    """An operator's link correction (cn.casehub.LinkCorrection)."""

    action: Literal["SPLIT", "JOIN"] = Field(description="SPLIT: take the record out of its case; JOIN: join cases")
    system: str = Field(description="source system of the record (SourceRecord.system)")
    record_id: str = Field(description="record id in that system")
    other_system: str | None = Field(None, description="JOIN: the other record's system")
    other_record_id: str | None = Field(None, description="JOIN: the other record's id")
    reason: str = Field(min_length=1, max_length=2000, description="why (kept with the correction)")

    @field_validator("system", "record_id", "other_system", "other_record_id", "reason")
    @classmethod
    def no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("a NUL character is in no record id or reason")
        return value


class CallbackBody(BaseModel):
    """A court's answer (the signed JSON body of POST /api/court/callbacks)."""

    request_id: str
    outcome: Literal["RECEIVED", "ACCEPTED", "RULED_VALID", "REJECTED", "NOT_ACCEPTED"]
    court_case_number: str | None = Field(None, description="the 民特 case number (required with ACCEPTED)")
    decided_at: str | None = Field(None, description="ISO 8601 with offset; default: when received")
    reason: str | None = Field(None, description="required with REJECTED and NOT_ACCEPTED")


def build_app(engine: sa.Engine, access: Access, publisher, codec, topics, clock=None) -> FastAPI:
    """The app over one case view. publisher: a casehub.ground.publish Publisher (corrections, court answers)."""
    clock = clock or (lambda: dt.datetime.now(dt.UTC))
    log = get_logger("web")
    callbacks = Callbacks(engine, access, publisher, codec, topics, clock)
    app = FastAPI(
        title="casehub case view",
        version="1",
        description="Full-chain case view (全链条案件视图) and the courts' judicial-confirmation callbacks. "
        "Authorization: Bearer <token> (roles: operator, viewer, integrator, court/<code>).",
    )

    def role_of(request: Request) -> Role | None:
        return access.role_of(request_token(request.headers, request.cookies))

    def need(*roles: str):
        def check(request: Request) -> Role:
            role = role_of(request)
            if role is None:
                raise HTTPException(401, f"请登录 (sign in): missing or unknown token. {SIGN_IN_HELP}")
            if role.name not in roles:
                raise HTTPException(403, f"role {role.label} may not use this; allowed: {', '.join(roles)}")
            return role

        return check

    reader = need(*READERS)

    async def db(fn, *args):
        def run():
            with engine.connect() as conn:
                return fn(conn, *args)

        return await asyncio.to_thread(run)

    def page(request: Request, name: str, role: Role | None, code: int = 200, **ctx) -> HTMLResponse:
        ctx.update(
            role=role,
            L=labels,
            fen=fen,
            today=local_date(clock()),
        )
        return TEMPLATES.TemplateResponse(request, name, ctx, status_code=code)

    def error(request: Request, status: int, detail: str):
        """One error answer for every route: JSON {"error", "status"} for the API, the error page for a person."""
        if request.url.path.startswith("/api/") or request.url.path == "/healthz":
            return JSONResponse({"error": detail, "status": status}, status_code=status)
        return page(request, "error.html", role_of(request), status, status=status, detail=detail)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return error(request, exc.status_code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        where = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'body', 'path'))}: {e.get('msg')}"
            for e in exc.errors()
        )
        return error(request, 422, f"invalid request: {where}")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        # a fault of casehub's, not of the request: said plainly, with an id to find it in the log
        incident = uuid.uuid4().hex[:12]
        log.error("unexpected error", incident=incident, path=request.url.path, error=f"{type(exc).__name__}: {exc}")
        return error(request, 500, f"internal error (incident {incident} in the web log); the request changed nothing")

    @app.middleware("http")
    async def refuse_nul(request: Request, call_next):
        # a NUL character is in no case number, name or id; PostgreSQL refuses it in text (a 500 otherwise)
        if "\x00" in unquote(request.url.path) or "\x00" in unquote(request.url.query or ""):
            return error(request, 400, "a NUL character (%00) is not allowed in the address")
        return await call_next(request)

    @app.get("/healthz", tags=["ops"])
    async def health():
        return {"ok": True, "cases": await db(wq.count_cases)}

    # -- sign-in -------------------------------------------------------------------------------------------------------
    @app.get(SIGN_IN_PATH, response_class=HTMLResponse, include_in_schema=False)
    async def sign_in(request: Request, token: str | None = None):
        if token is None:
            return page(request, "error.html", None, 401, status=401, detail=f"请登录 (sign in). {SIGN_IN_HELP}")
        role = access.role_of(token)
        if role is None:
            raise HTTPException(401, f"unknown token. {SIGN_IN_HELP}")
        # the token moves into a cookie the page's scripts cannot read, and out of the address bar
        response = RedirectResponse("/operator" if role.name == "court" else "/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    @app.get("/signout", include_in_schema=False)
    async def sign_out():
        response = RedirectResponse(SIGN_IN_PATH, status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # -- pages ---------------------------------------------------------------------------------------------------------
    def filters(
        stage: str | None = None,
        status: str | None = None,
        region: str | None = None,
        organisation: str | None = None,
        overdue: str | None = Query(None, description="true: only cases with a missed duty deadline"),
        group_dispute: str | None = Query(None, description="true: only group disputes"),
        q: str | None = Query(None, description="case number of any agency, credit code, employer or masked party"),
        page: int = Query(1, ge=1, le=MAX_PAGE),
        per_page: int = Query(50, ge=1, le=200),
    ) -> wq.Filters:
        def flag(name: str, value: str | None) -> bool | None:
            if not value:
                return None
            if value.lower() not in YES | NO:
                raise HTTPException(422, f"{name} must be true or false, not {value!r}")
            return value.lower() in YES

        if stage and stage not in STAGES:
            raise HTTPException(422, f"stage {stage!r} is not one of {', '.join(STAGES)}")
        chosen = (v or None for v in (stage, status, region, organisation))
        return wq.Filters(
            *chosen, flag("overdue", overdue), flag("group_dispute", group_dispute), q or None, page, per_page
        )

    def _listing(conn, f: wq.Filters):
        total, rows = wq.list_cases(conn, f)
        return total, rows, wq.stages_of(conn, [r["case_id"] for r in rows])

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request, f: wq.Filters = Depends(filters)):
        role = reader(request)
        total, rows, agencies = await db(_listing, f)
        if f.q and total == 1 and f.page == 1:
            return RedirectResponse(f"/cases/{rows[0]['case_id']}", status_code=303)
        return page(
            request,
            "list.html",
            role,
            rows=rows,
            total=total,
            f=f,
            agencies=agencies,
            stages=STAGES,
            page_link=lambda n: page_link(f, n),
        )

    @app.get("/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
    async def case_page(request: Request, case_id: str, done: str | None = None):
        role = reader(request)
        detail = await db(wq.case_detail, case_id)
        if detail is None:
            raise HTTPException(404, f"case {case_id} not found")
        record = detail["record"]
        record = visible_to(role, record)
        today = local_date(clock())
        return page(
            request,
            "case.html",
            role,
            c=record,
            decisions={d["seq"]: d for d in detail["decisions"]},
            requests=detail["requests"],
            picture=svg(record, today),
            days_left=lambda due: days_left(due, today),
            done=done,
        )

    @app.post("/cases/{case_id}/corrections", include_in_schema=False)
    async def correct_form(
        request: Request,
        case_id: str,
        action: str = Form(...),
        record: str = Form(..., description="SYSTEM:RECORD_ID"),
        other: str = Form(""),
        reason: str = Form(...),
    ):
        role = need("operator")(request)
        # as `casehub link` writes records: SYSTEM:RECORD_ID (a record id may itself hold colons)
        system, _, record_id = record.strip().partition(":")
        other_system, _, other_record = other.strip().partition(":")
        if action not in ("SPLIT", "JOIN") or not record_id:
            raise HTTPException(422, "action must be SPLIT or JOIN and record must be SYSTEM:RECORD_ID")
        if action == "JOIN" and not other_record:
            raise HTTPException(
                422, f"the other record must be SYSTEM:RECORD_ID (e.g. ln-arbitration:1288), not {other!r}"
            )
        try:
            body = Correction(
                action=action,
                system=system,
                record_id=record_id,
                other_system=other_system or None,
                other_record_id=other_record or None,
                reason=reason,
            )
        except ValidationError as exc:
            raise HTTPException(422, "; ".join(e["msg"] for e in exc.errors())) from None
        correction_id = await publish_correction(case_id, body, role)
        return RedirectResponse(f"/cases/{case_id}?done={correction_id}", status_code=303)

    def apply_entry(entry: dict) -> None:
        with engine.begin() as conn:
            apply_log_entry(conn, entry)

    async def resend(request_id: str, role: Role) -> None:
        """A request the court refused goes out again (same Idempotency-Key) on the relay's next pass: logged on the
        relay's log first, as the relay logs what it does, so a restart or a rebuild keeps the operator's decision."""
        entry = await db(resend_entry, request_id, role.label)
        if entry is None:
            raise HTTPException(409, f"request {request_id} is not one a court refused (only those are sent again)")
        await publisher.send(topics.confirmation_log, request_id.encode(), to_json(entry).encode())
        await asyncio.to_thread(apply_entry, entry)
        log.info("confirmation request to be sent again", request_id=request_id, operator=role.label)

    @app.post("/cases/{case_id}/requests/{request_id}/resend", include_in_schema=False)
    async def resend_form(request: Request, case_id: str, request_id: str):
        role = need("operator")(request)
        await resend(request_id, role)
        return RedirectResponse(f"/cases/{case_id}", status_code=303)

    @app.post(
        "/api/confirmations/{request_id}/resend",
        tags=["confirmation"],
        status_code=202,
        summary="Send a request the court refused again (operators)",
    )
    async def api_resend(request_id: str, role: Role = Depends(need("operator"))):
        await resend(request_id, role)
        return {"request_id": request_id, "state": REINSTATED}

    @app.get("/operator", response_class=HTMLResponse, include_in_schema=False)
    async def operator_page(request: Request):
        role = need("operator", "court")(request)

        def load(conn):
            shown = wq.requests_of(conn, court_code=role.court_code, limit=OPERATOR_ROWS)
            if role.name == "court":
                return {"requests": shown}
            return {
                "missing": wq.missing_organisations(conn),
                "unrouted": wq.unrouted_agreements(conn),
                "alerts": wq.alert_list(conn),
                "requests": shown,
                "total": wq.count_requests(conn),
                "roster": wq.roster_size(conn),
            }

        return page(request, "operator.html", role, limit=OPERATOR_ROWS, **await db(load))

    # -- API -----------------------------------------------------------------------------------------------------------
    @app.get("/api/cases", tags=["cases"], summary="List and search cases (filters, paging)")
    async def api_cases(f: wq.Filters = Depends(filters), role: Role = Depends(need(*READERS))):
        total, rows, agencies = await db(_listing, f)
        for r in rows:
            r["agencies"] = agencies.get(r["case_id"], [])
        return {"total": total, "page": f.page, "per_page": f.per_page, "cases": visible_to(role, rows)}

    @app.get("/api/cases/{case_id}", tags=["cases"], summary="One case record (redirects followed)")
    async def api_case(case_id: str, role: Role = Depends(need(*READERS))):
        detail = await db(wq.case_detail, case_id)
        if detail is None:
            raise HTTPException(404, f"case {case_id} not found")
        out = {**detail["record"], "confirmation_requests": detail["requests"], "decisions": detail["decisions"]}
        return visible_to(role, out)

    def check_correction(conn, case_id: str, body: Correction) -> str:
        """The live case a correction is about; refused (404/422) when the case or a record is not what it says, as
        `casehub link` refuses it (a correction the linker cannot apply would be kept by it for good)."""
        record = load_case(conn, case_id)
        if record is None:
            raise HTTPException(404, f"case {case_id} not found")
        cid = record["case_id"]
        if wq.case_of_record(conn, body.system, body.record_id) != cid:
            raise HTTPException(422, f"record {body.system}:{body.record_id} is not in case {cid}")
        if body.action == "JOIN":
            other = wq.case_of_record(conn, body.other_system, body.other_record_id)
            if other is None:
                raise HTTPException(422, f"no case holds record {body.other_system}:{body.other_record_id}")
            if other == cid:
                raise HTTPException(422, f"record {body.other_system}:{body.other_record_id} is in this case already")
        return cid

    async def publish_correction(case_id: str, body: Correction, role: Role) -> str:
        if body.action == "JOIN" and not (body.other_system and body.other_record_id):
            raise HTTPException(422, "JOIN needs other_system and other_record_id (the record whose case to join)")
        case_id = await db(check_correction, case_id, body)
        records = [{"system": body.system, "record_id": body.record_id}]
        if body.action == "JOIN":
            records.append({"system": body.other_system, "record_id": body.other_record_id})
        correction = {
            "correction_id": f"web-{uuid.uuid4().hex[:16]}",
            "action": body.action,
            "records": records,
            "case_ids": [case_id],
            "issued_at": clock(),
            "operator": role.label,
            "reason": body.reason,
        }
        topic = topics.corrections
        await publisher.send(topic, correction["correction_id"].encode(), codec.encode(topic, correction))
        log.info("link correction published", correction_id=correction["correction_id"], action=body.action)
        return correction["correction_id"]

    @app.post("/api/cases/{case_id}/corrections", tags=["cases"], status_code=202, summary="Correct a link")
    async def api_correct(case_id: str, body: Correction, role: Role = Depends(need("operator"))):
        return {"correction_id": await publish_correction(case_id, body, role), "published": True}

    @app.get("/api/confirmations", tags=["confirmation"], summary="Confirmation requests (a court: its own)")
    async def api_requests(role: Role = Depends(need("operator", "court", "integrator"))):
        rows = await db(lambda conn: wq.requests_of(conn, court_code=role.court_code))
        return {"requests": rows}

    @app.get("/api/confirmations/{request_id}", tags=["confirmation"], summary="One request (no identities)")
    async def api_request(request_id: str, role: Role = Depends(need("operator", "court", "integrator"))):
        rows = await db(lambda conn: wq.requests_of(conn, court_code=role.court_code, request_id=request_id))
        if not rows:
            raise HTTPException(404, f"request {request_id} not found")
        body = await db(wq.request_body, request_id)
        return visible_to(role, {**rows[0], "request": body})

    @app.get("/api/alerts", tags=["ops"], summary="Alerts (undelivered requests near or past their deadline)")
    async def api_alerts(role: Role = Depends(need("operator"))):
        return {"alerts": await db(wq.alert_list)}

    @app.get("/api/organisations/missing", tags=["ops"], summary="Organisations named by cases, not in the roster")
    async def api_missing(role: Role = Depends(need("operator"))):
        return {"organisations": await db(wq.missing_organisations)}

    @app.get("/api/agreements/unrouted", tags=["ops"], summary="Eligible agreements no court in the directory takes")
    async def api_unrouted(role: Role = Depends(need("operator"))):
        return {"agreements": await db(wq.unrouted_agreements)}

    @app.post(
        "/api/court/callbacks",
        tags=["confirmation"],
        status_code=202,
        summary="A court's receipt or answer (signed)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": CallbackBody.model_json_schema()}},
            },
            "parameters": [
                {"name": "X-Casehub-Timestamp", "in": "header", "required": True, "schema": {"type": "string"}},
                {"name": "X-Casehub-Signature", "in": "header", "required": True, "schema": {"type": "string"}},
            ],
        },
    )
    async def api_callback(request: Request):
        body = await request.body()
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        try:
            return await callbacks.handle(
                token, request.headers.get("x-casehub-timestamp"), request.headers.get("x-casehub-signature"), body
            )
        except CallbackError as exc:
            return JSONResponse({"error": exc.message, "status": exc.status}, status_code=exc.status)

    return app


async def serve(settings, stop: asyncio.Event, access: Access) -> None:
    """Serve the app of a process (uvicorn on CASEHUB_WEB_HOST:CASEHUB_WEB_PORT) until `stop` is set."""
    import uvicorn

    from casehub.ground.kafka import clients_for
    from casehub.ground.publish import KafkaPublisher
    from casehub.schemas.codec import codec_for
    from casehub.sinks.case_view import create_engine

    engine = await asyncio.to_thread(create_engine, settings.case_view)
    producer = clients_for(settings).producer()
    await producer.start()
    app = build_app(engine, access, KafkaPublisher(producer), codec_for(settings), settings.topics)
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.web_host, port=settings.web_port, log_config=None, access_log=False)
    )
    server.install_signal_handlers = lambda: None  # the component's own handlers stop it
    task = asyncio.create_task(server.serve())
    try:
        await stop.wait()
    finally:
        server.should_exit = True
        await task
        await producer.stop()
        engine.dispose()
