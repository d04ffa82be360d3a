"""The Confluent Schema Registry REST API subset that serializers and tools use, served with aiohttp, plus
casehub's own `/casehub/status`, `/casehub/repair` and Prometheus `/metrics`.

Writes need the registry's credential (casehub.schemas.registry.auth); bad input is a 4xx naming what is wrong,
never a bare 500.
"""

from __future__ import annotations

import json

from aiohttp import web
from aiokafka.errors import KafkaError

from casehub.ground.logs import get_logger
from casehub.schemas.registry.auth import REALM, RegistryAccess
from casehub.schemas.registry.guard import REPAIR
from casehub.schemas.registry.state import MAX_DEPTH, RegistryError, check_depth, json_kind, normalise
from casehub.schemas.registry.store import SchemaStore

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
MAX_BODY = 4 * 1024 * 1024  # casehub's largest schema is 26 KB


def _json(data, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(data, ensure_ascii=False).encode("utf-8"),
        status=status,
        headers={"Content-Type": CONTENT_TYPE, **(headers or {})},
    )


def _error(exc: RegistryError) -> web.Response:
    headers = {"WWW-Authenticate": REALM} if exc.status == 401 else None
    return _json({"error_code": exc.code, "message": exc.message}, exc.status, headers)


def _schema_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError as exc:
        raise RegistryError(404, 40403, f"Schema {request.match_info['id']!r} not found") from exc


async def _body(request: web.Request) -> dict:
    """The request's JSON object, or a 422 saying why not (not UTF-8, not JSON, nested too deep, not an object)."""
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RegistryError(422, 42201, f"Invalid request body: not UTF-8 ({exc})") from exc
    check_depth(text, "request body", MAX_DEPTH + 2)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RegistryError(422, 42201, f"Invalid request body: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise RegistryError(422, 42201, f"Invalid request body: expected a JSON object, not {json_kind(data)}")
    return data


def _schema_field(body: dict):
    if "schema" not in body:
        raise RegistryError(422, 42201, "Invalid schema: the body has no 'schema' field")
    return body["schema"]


def _level_field(body: dict):
    level = body.get("compatibility") or body.get("compatibilityLevel")
    if level is None:
        raise RegistryError(422, 42203, "Invalid compatibility level: the body has no 'compatibility' field")
    return level


def status_of(store: SchemaStore, access: RegistryAccess) -> dict:
    """What `/casehub/status` answers: the contract's subjects, their conflicts, and who may read and write."""
    conflicts = store.conflicts()
    return {
        "ok": not conflicts,
        "contract": {
            "subjects": len(store.guard.subjects),
            "registered": sum(1 for s, c in store.guard.subjects.items() if store.state.find(s, c.schema)),
            "conflicts": [c.as_dict() for c in conflicts],
            "changes_allowed": store.guard.allow_changes,
        },
        "access": {"reads_open": access.reads_open, "writes": "credential" if access.writable else "refused"},
        "repair": REPAIR if conflicts else None,
    }


def metrics_text(store: SchemaStore) -> bytes:
    """Prometheus text of the registry: subjects served and the contract's conflicts, one series per conflict."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()
    Gauge("casehub_registry_subjects", "Subjects with live versions", registry=registry).set(
        sum(1 for s in store.state.subjects if store.state.live(s))
    )
    conflicts = store.conflicts()
    Gauge(
        "casehub_registry_contract_conflicts",
        "casehub subjects whose registered versions conflict with the contract (repair: casehub schemas repair)",
        registry=registry,
    ).set(len(conflicts))
    each = Gauge(
        "casehub_registry_contract_conflict",
        "One conflicting casehub subject, with its registered version and the contract's version",
        ["subject", "registered_version", "contract_version"],
        registry=registry,
    )
    for c in conflicts:
        each.labels(c.subject, str(c.registered_version), str(c.contract_version or "")).set(1)
    return generate_latest(registry)


def build_app(store: SchemaStore, access: RegistryAccess | None = None) -> web.Application:
    """The aiohttp application; the caller starts and stops `store`.

    Args:
        access: who may read and write (default: reads open, writes refused).
    """
    access = access or RegistryAccess()
    state = lambda: store.state  # noqa: E731 - always the live state
    log = get_logger("registry")

    def version_of(subject: str, version: str):
        live = state().live(subject)
        if not state().subjects.get(subject):
            raise RegistryError(404, 40401, f"Subject '{subject}' not found.")
        if version in ("latest", "-1"):
            if not live:
                raise RegistryError(404, 40402, f"Version {version} not found.")
            return live[-1]
        try:
            number = int(version)
        except ValueError as exc:
            raise RegistryError(422, 42202, f"The specified version '{version}' is not a valid version id.") from exc
        found = next((v for v in live if v.version == number), None)
        if not found:
            raise RegistryError(404, 40402, f"Version {version} not found.")
        return found

    def render(v) -> dict:
        return {"subject": v.subject, "version": v.version, "id": v.id, "schema": v.schema, "schemaType": "AVRO"}

    def auth(request) -> str | None:
        return request.headers.get("Authorization")

    @web.middleware
    async def errors(request, handler):
        try:
            # GETs are reads; the other methods check in their handlers (a register of a known schema is a read)
            if request.method in ("GET", "HEAD"):
                access.check_read(auth(request))
            return await handler(request)
        except RegistryError as exc:
            return _error(exc)
        except web.HTTPException as exc:  # unknown route, wrong method, body too large: Confluent-style JSON
            if exc.status < 400:
                raise
            return _json({"error_code": exc.status, "message": f"HTTP {exc.status} {exc.reason}"}, exc.status)
        except RecursionError:
            return _error(RegistryError(422, 42201, "Invalid request: nested too deeply to process"))
        except KafkaError as exc:
            log.warning("registry write failed: Kafka unavailable", error=f"{type(exc).__name__}: {exc}")
            return _error(RegistryError(503, 50003, f"Kafka is unavailable, try again later ({type(exc).__name__})"))
        except Exception as exc:  # a bug: say so as JSON, and log it with the traceback for the operator
            log.exception("registry request failed", method=request.method, path=request.path)
            return _error(RegistryError(500, 50001, f"internal error ({type(exc).__name__}); see the registry's log"))

    routes = web.RouteTableDef()

    @routes.get("/")
    async def root(request):
        return _json({})

    @routes.get("/subjects")
    async def subjects(request):
        return _json(sorted(s for s in state().subjects if state().live(s)))

    @routes.get("/schemas/types")
    async def types(request):
        return _json(["AVRO"])

    @routes.get("/schemas/ids/{id}")
    async def by_id(request):
        schema_id = _schema_id(request)
        schema = state().schemas.get(schema_id)
        if schema is None:
            raise RegistryError(404, 40403, f"Schema {schema_id} not found")
        return _json({"schema": schema})

    @routes.get("/schemas/ids/{id}/schema")
    async def raw_by_id(request):
        schema = state().schemas.get(_schema_id(request))
        if schema is None:
            raise RegistryError(404, 40403, "Schema not found")
        return web.Response(text=schema, content_type="application/json")

    @routes.get("/schemas/ids/{id}/versions")
    async def versions_of_id(request):
        schema_id = _schema_id(request)
        return _json(
            [
                {"subject": v.subject, "version": v.version}
                for vs in state().subjects.values()
                for v in vs
                if v.id == schema_id and not v.deleted
            ]
        )

    @routes.get("/subjects/{subject}/versions")
    async def versions(request):
        subject = request.match_info["subject"]
        live = state().live(subject)
        if not live:
            raise RegistryError(404, 40401, f"Subject '{subject}' not found.")
        return _json([v.version for v in live])

    @routes.get("/subjects/{subject}/versions/{version}")
    async def get_version(request):
        return _json(render(version_of(request.match_info["subject"], request.match_info["version"])))

    @routes.get("/subjects/{subject}/versions/{version}/schema")
    async def get_version_schema(request):
        v = version_of(request.match_info["subject"], request.match_info["version"])
        return web.Response(text=v.schema, content_type="application/json")

    @routes.post("/subjects/{subject}/versions")
    async def register(request):
        subject = request.match_info["subject"]
        body = await _body(request)
        schema = _schema_field(body)
        references = body.get("references")
        if references not in (None, []):
            raise RegistryError(
                422, 42201, "Invalid schema: schema references are not supported; register a self-contained schema"
            )
        schema_type = body.get("schemaType") or "AVRO"
        known = state().find(subject, normalise(schema))
        if known is not None:  # the subject has it already: answering its id changes nothing, so it is a read
            access.check_read(auth(request))
            return _json({"id": known.id})
        access.check_write(auth(request))
        return _json({"id": await store.register(subject, schema, schema_type)})

    @routes.post("/subjects/{subject}")
    async def lookup(request):
        access.check_read(auth(request))
        subject = request.match_info["subject"]
        body = await _body(request)
        norm = normalise(_schema_field(body))
        if not state().live(subject):
            raise RegistryError(404, 40401, f"Subject '{subject}' not found.")
        found = state().find(subject, norm)
        if not found:
            raise RegistryError(404, 40403, "Schema not found")
        return _json(render(found))

    @routes.delete("/subjects/{subject}")
    async def delete(request):
        access.check_write(auth(request))
        if request.query.get("permanent") == "true":
            raise RegistryError(422, 42205, "permanent deletes are not supported: versions are soft-deleted")
        return _json(await store.delete_subject(request.match_info["subject"]))

    @routes.delete("/subjects/{subject}/versions/{version}")
    async def delete_version(request):
        access.check_write(auth(request))
        if request.query.get("permanent") == "true":
            raise RegistryError(422, 42205, "permanent deletes are not supported: versions are soft-deleted")
        subject = request.match_info["subject"]
        return _json(await store.delete_version(subject, version_of(subject, request.match_info["version"])))

    @routes.post("/compatibility/subjects/{subject}/versions/{version}")
    async def compatibility(request):
        access.check_read(auth(request))
        subject = request.match_info["subject"]
        version = request.match_info["version"]
        body = await _body(request)
        norm = normalise(_schema_field(body))
        live = state().live(subject)
        if version in ("latest", "-1"):
            against = live
        else:
            target = version_of(subject, version)
            against = [v for v in live if v.version <= target.version]
        problems = state().problems(subject, norm, against)
        result = {"is_compatible": not problems}
        if request.query.get("verbose") == "true":
            result["messages"] = [str(p) for p in problems]
        return _json(result)

    @routes.post("/compatibility/subjects/{subject}/versions")
    async def compatibility_all(request):
        access.check_read(auth(request))
        body = await _body(request)
        problems = state().problems(request.match_info["subject"], normalise(_schema_field(body)))
        return _json({"is_compatible": not problems, "messages": [str(p) for p in problems]})

    @routes.get("/config")
    async def get_config(request):
        return _json({"compatibilityLevel": state().global_level})

    @routes.put("/config")
    async def put_config(request):
        access.check_write(auth(request))
        level = _level_field(await _body(request))
        await store.set_level(None, level)
        return _json({"compatibility": level})

    @routes.get("/config/{subject}")
    async def get_subject_config(request):
        subject = request.match_info["subject"]
        if subject not in state().subject_levels and request.query.get("defaultToGlobal") != "true":
            raise RegistryError(404, 40408, f"Subject '{subject}' does not have subject-level compatibility configured")
        return _json({"compatibilityLevel": state().level(subject)})

    @routes.put("/config/{subject}")
    async def put_subject_config(request):
        access.check_write(auth(request))
        level = _level_field(await _body(request))
        await store.set_level(request.match_info["subject"], level)
        return _json({"compatibility": level})

    # -- casehub's own endpoints -------------------------------------------------------------------
    @routes.get("/casehub/status")
    async def casehub_status(request):
        return _json(status_of(store, access))

    @routes.post("/casehub/repair")
    async def casehub_repair(request):
        access.check_write(auth(request))
        done = await store.repair()
        for entry in done:
            log.warning("contract subject repaired", **entry)
        return _json({"repaired": done, "conflicts": [c.as_dict() for c in store.conflicts()]})

    @routes.get("/metrics")
    async def metrics(request):
        return web.Response(body=metrics_text(store), headers={"Content-Type": "text/plain; version=0.0.4"})

    app = web.Application(middlewares=[errors], client_max_size=MAX_BODY)
    app.add_routes(routes)
    return app


async def serve(store: SchemaStore, host: str, port: int, access: RegistryAccess | None = None) -> web.AppRunner:
    """Start the store, register the contract (conflicts are reported by `store.conflicts()`, never raised), then
    serve HTTP; return the runner (call `runner.cleanup()` then `store.stop()`)."""
    await store.start()
    await store.register_contract()
    runner = web.AppRunner(build_app(store, access), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
