"""The Confluent Schema Registry REST API subset that serializers and tools use, served with aiohttp."""

from __future__ import annotations

import json

from aiohttp import web

from casehub.schemas.registry.state import RegistryError, normalise
from casehub.schemas.registry.store import KafkaSchemaStore

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


def _json(data, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data, ensure_ascii=False).encode("utf-8"), status=status, headers={"Content-Type": CONTENT_TYPE}
    )


def _error(exc: RegistryError) -> web.Response:
    return _json({"error_code": exc.code, "message": exc.message}, exc.status)


def _schema_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError as exc:
        raise RegistryError(404, 40403, f"Schema {request.match_info['id']!r} not found") from exc


async def _body(request: web.Request) -> dict:
    try:
        data = await request.json(loads=json.loads)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegistryError(422, 42201, f"Invalid request body: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise RegistryError(422, 42201, "Invalid request body: expected a JSON object")
    return data


def build_app(store: KafkaSchemaStore) -> web.Application:
    """The aiohttp application; the caller starts and stops `store`."""
    state = lambda: store.state  # noqa: E731 - always the live state

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

    @web.middleware
    async def errors(request, handler):
        try:
            return await handler(request)
        except RegistryError as exc:
            return _error(exc)

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
        body = await _body(request)
        if "schema" not in body:
            raise RegistryError(422, 42201, "Invalid schema: the body has no 'schema' field")
        if body.get("references"):
            raise RegistryError(
                422, 42201, "Invalid schema: schema references are not supported; register a self-contained schema"
            )
        schema_id = await store.register(
            request.match_info["subject"], body["schema"], body.get("schemaType") or "AVRO"
        )
        return _json({"id": schema_id})

    @routes.post("/subjects/{subject}")
    async def lookup(request):
        subject = request.match_info["subject"]
        body = await _body(request)
        if not state().live(subject):
            raise RegistryError(404, 40401, f"Subject '{subject}' not found.")
        found = state().find(subject, normalise(body.get("schema", "")))
        if not found:
            raise RegistryError(404, 40403, "Schema not found")
        return _json(render(found))

    @routes.delete("/subjects/{subject}")
    async def delete(request):
        return _json(await store.delete_subject(request.match_info["subject"]))

    @routes.post("/compatibility/subjects/{subject}/versions/{version}")
    async def compatibility(request):
        subject = request.match_info["subject"]
        version = request.match_info["version"]
        body = await _body(request)
        norm = normalise(body.get("schema", ""))
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
        body = await _body(request)
        problems = state().problems(request.match_info["subject"], normalise(body.get("schema", "")))
        return _json({"is_compatible": not problems, "messages": [str(p) for p in problems]})

    @routes.get("/config")
    async def get_config(request):
        return _json({"compatibilityLevel": state().global_level})

    @routes.put("/config")
    async def put_config(request):
        body = await _body(request)
        level = body.get("compatibility") or body.get("compatibilityLevel")
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
        body = await _body(request)
        level = body.get("compatibility") or body.get("compatibilityLevel")
        await store.set_level(request.match_info["subject"], level)
        return _json({"compatibility": level})

    app = web.Application(middlewares=[errors])
    app.add_routes(routes)
    return app


async def serve(store: KafkaSchemaStore, host: str, port: int) -> web.AppRunner:
    """Start the store and the HTTP server; return the runner (call `runner.cleanup()` then `store.stop()`)."""
    await store.start()
    runner = web.AppRunner(build_app(store), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
