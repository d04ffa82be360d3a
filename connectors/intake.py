"""Push and file intake: records an agency system POSTs as JSON, or a small organisation uploads as xlsx/csv
(read by casehub.connectors.spreadsheets), go through the same mapping, validation and dead letters as rows
read from a database.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json

from aiohttp import web

from casehub.connectors.adapter import MappedAdapter
from casehub.connectors.mapping import available_mappings
from casehub.connectors.rows import map_rows
from casehub.domain.identities import Protector
from casehub.ground.deadletter import DeadLetters, dead_letter
from casehub.ground.logs import get_logger
from casehub.ground.publish import Publisher
from casehub.ground.secrets import hmac_secret
from casehub.ground.settings import Settings

MAX_RECORDS = 5000


class IntakeError(ValueError):
    """The submission as a whole is unusable (not the mapping of one record)."""


class IntakeProcessor:
    """Maps submitted records with a source's mapping and publishes events, identities and dead letters."""

    def __init__(self, settings: Settings, codec, publisher: Publisher):
        self.settings, self.codec, self.publisher = settings, codec, publisher
        self.log = get_logger("intake")
        protector = Protector(hmac_secret(settings, log=self.log))  # refuses push intake without CASEHUB_HMAC_SECRET
        self.adapters = {
            name: MappedAdapter(m, protector) for name, m in available_mappings(settings.mapping_dir).items()
        }
        self.letters = DeadLetters(codec, settings.topics.deadletter, publisher, self.log)

    async def submit(self, source: str, records: list[dict], channel: str) -> list[dict]:
        """Publish what maps, dead-letter what does not; one result per record, in order."""
        adapter = self.adapters.get(source)
        if adapter is None:
            raise IntakeError(f"unknown source {source!r}; known: {', '.join(sorted(self.adapters))}")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise IntakeError(
                "expected a list of JSON objects (one per record, keys = the source table's column names)"
            )
        if len(records) > MAX_RECORDS:
            raise IntakeError(f"{len(records)} records in one submission; at most {MAX_RECORDS}")
        needed = (*adapter.key_columns, adapter.cursor)
        missing = [i for i, r in enumerate(records) if any(r.get(c) in (None, "") for c in needed)]
        if missing:
            raise IntakeError(
                f"records {missing[:10]} lack a key column ({', '.join(adapter.key_columns)}) or the version column "
                f"{adapter.cursor!r}"
            )
        topic, t = self.settings.topics.for_agency(adapter.agency), self.settings.topics
        results, out = [], self.publisher.batch()
        for row, outcome in zip(records, map_rows(adapter, records, dt.datetime.now(dt.UTC))):
            if outcome.error:
                exc = outcome.error
                letter = dead_letter(
                    f"{channel}:{source}",
                    topic,
                    exc.kind,
                    exc.reason,
                    system=adapter.system,
                    record_id=outcome.record_id,
                    field=exc.field,
                    payload_text=adapter.describe(row)[:2000],
                )
                await out.add(*self.letters.message(letter))
                results.append(
                    {
                        "record_id": outcome.record_id,
                        "ok": False,
                        "field": exc.field,
                        "kind": exc.kind,
                        "reason": exc.reason,
                    }
                )
                continue
            event = outcome.mapped.event
            await out.add(topic, outcome.record_id.encode(), self.codec.encode(topic, event))
            for ident in outcome.mapped.identities:
                await out.add(t.identities, ident["id_hash"].encode(), self.codec.encode(t.identities, ident))
            results.append(
                {
                    "record_id": outcome.record_id,
                    "ok": True,
                    "event_id": event["event_id"],
                    "event_type": event["event_type"],
                }
            )
        await out.flush()  # answer only once everything is acknowledged by Kafka
        self.log.info(
            "intake accepted",
            source=source,
            channel=channel,
            records=len(records),
            dead_letters=sum(1 for r in results if not r["ok"]),
        )
        return results


def parse_tokens(spec: str | None) -> dict[str, str]:
    """'mediation:tok1,arbitration:tok2' -> {source: token}; '*:tok' allows every source."""
    out = {}
    for part in (spec or "").split(","):
        if part.strip():
            source, sep, token = part.strip().partition(":")
            if not sep or not token:
                raise ValueError(f"CASEHUB_INTAKE_TOKENS entry {part!r} is not source:token")
            out[source] = token
    return out


def build_app(processor: IntakeProcessor, tokens: dict[str, str]) -> web.Application:
    routes = web.RouteTableDef()

    def authorised(request: web.Request, source: str) -> bool:
        header = request.headers.get("Authorization", "")
        given = header[7:] if header.startswith("Bearer ") else ""
        expected = [tokens[k] for k in (source, "*") if k in tokens]
        return bool(given) and any(hmac.compare_digest(given, e) for e in expected)

    @routes.post("/intake/{source}")
    async def intake(request: web.Request):
        source = request.match_info["source"]
        if not authorised(request, source):
            return web.json_response({"error": "missing or wrong bearer token for this source"}, status=401)
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError) as exc:
            return web.json_response({"error": f"body is not UTF-8 JSON: {exc}"}, status=400)
        records = body.get("records") if isinstance(body, dict) else body
        try:
            results = await processor.submit(source, records, "push")
        except IntakeError as exc:
            return web.json_response({"error": str(exc)}, status=422)
        return web.json_response(
            {
                "accepted": sum(r["ok"] for r in results),
                "dead_lettered": sum(not r["ok"] for r in results),
                "results": results,
            },
            dumps=lambda o: json.dumps(o, ensure_ascii=False),
        )

    @routes.get("/healthz")
    async def health(request):
        return web.json_response({"ok": True, "sources": sorted(processor.adapters)})

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.add_routes(routes)
    return app


async def serve(settings: Settings, codec, publisher: Publisher) -> web.AppRunner:
    tokens = parse_tokens(settings.intake_tokens)
    if not tokens:
        raise IntakeError("set CASEHUB_INTAKE_TOKENS (source:token,...) before starting the intake endpoint")
    runner = web.AppRunner(build_app(IntakeProcessor(settings, codec, publisher), tokens), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.intake_host, settings.intake_port).start()
    return runner
