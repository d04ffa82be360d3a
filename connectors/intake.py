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
from casehub.connectors.base import MappingError, Unreadable
from casehub.connectors.mapping import available_mappings
from casehub.connectors.rows import map_rows
from casehub.domain.identities import Protector
from casehub.ground.deadletter import DeadLetters, dead_letter
from casehub.ground.logs import get_logger
from casehub.ground.publish import Publisher
from casehub.ground.settings import Settings
from casehub.schemas.codec import EncodeError

MAX_RECORDS = 5000


SCALARS = (str, int, float, bool, type(None), Unreadable)  # Unreadable: a spreadsheet cell, dead-lettered


class IntakeError(ValueError):
    """The submission as a whole is unusable (not the mapping of one record)."""


class PushedRecord(dict):
    """A submitted record: a column it does not carry reads as null, as an empty column of a table would.

    A pushed record names only the columns it has; an absent optional field is null, not an error. A
    mapping column the record cannot supply because it was misspelt then reads as missing (required
    columns say so) rather than as a column absent from the table.
    """

    def __missing__(self, key):
        return None


def check_record_values(records: list[dict]) -> None:
    """Every value is a JSON scalar (a column holds text, a number, a boolean or null).

    Raises:
        IntakeError: naming the first record and key holding an object or a list.
    """
    for i, record in enumerate(records):
        for key, value in record.items():
            if not isinstance(value, SCALARS):
                kind = "an object" if isinstance(value, dict) else "a list"
                raise IntakeError(
                    f"record {i}, key {key!r}: the value is {kind}; a column holds text, a number, true/false or null"
                )


class IntakeProcessor:
    """Maps submitted records with a source's mapping and publishes events, identities and dead letters."""

    def __init__(self, settings: Settings, codec, publisher: Publisher):
        self.settings, self.codec, self.publisher = settings, codec, publisher
        protector = Protector(settings.hmac_secret)
        self.adapters = {
            name: MappedAdapter(m, protector) for name, m in available_mappings(settings.mapping_dir).items()
        }
        self.log = get_logger("intake")
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
        check_record_values(records)
        records = [PushedRecord(r) for r in records]
        needed = (*adapter.key_columns, adapter.cursor)
        missing = [i for i, r in enumerate(records) if any(r.get(c) in (None, "") for c in needed)]
        if missing:
            raise IntakeError(
                f"records {missing[:10]} lack a key column ({', '.join(adapter.key_columns)}) or the version column "
                f"{adapter.cursor!r}"
            )
        messages, results = self.messages(adapter, records, f"{channel}:{source}")
        await self.publish(messages)  # answer only once everything is acknowledged by Kafka
        self.log.info(
            "intake accepted",
            source=source,
            channel=channel,
            records=len(records),
            dead_letters=sum(1 for r in results if not r["ok"]),
        )
        return results

    def messages(self, adapter, records: list[dict], stage: str) -> tuple[list[tuple], list[dict]]:
        """Map and encode the records (pure): the (topic, key, value) messages to publish, one result per record."""
        topic, t = self.settings.topics.for_agency(adapter.agency), self.settings.topics
        messages, results = [], []
        for row, outcome in zip(records, map_rows(adapter, records, dt.datetime.now(dt.UTC))):
            error = outcome.error
            if error is None:
                event = outcome.mapped.event
                try:
                    mine = [(topic, outcome.record_id.encode(), self.codec.encode(topic, event))]
                    mine += [
                        (t.identities, i["id_hash"].encode(), self.codec.encode(t.identities, i))
                        for i in outcome.mapped.identities
                    ]
                except EncodeError as exc:  # e.g. an amount beyond Avro's long; the reason never repeats values
                    error = MappingError(
                        None, f"the mapped event does not fit {exc.record} ({exc.cause})", "SCHEMA_MISMATCH"
                    )
                else:
                    messages += mine
                    results.append(
                        {
                            "record_id": outcome.record_id,
                            "ok": True,
                            "event_id": event["event_id"],
                            "event_type": event["event_type"],
                        }
                    )
                    continue
            letter = dead_letter(
                stage,
                topic,
                error.kind,
                error.reason,
                system=adapter.system,
                record_id=outcome.record_id,
                field=error.field,
                payload_text=adapter.describe(row)[:2000],
            )
            messages.append(self.letters.message(letter))
            results.append(_failed(outcome.record_id, error))
        return messages, results

    async def publish(self, messages: list[tuple]) -> None:
        """Publish and wait until Kafka acknowledged every message."""
        out = self.publisher.batch()
        for message in messages:
            if not out.add_nowait(*message):
                await out.add(*message)
        await out.flush()


def _failed(record_id: str, error) -> dict:
    return {"record_id": record_id, "ok": False, "field": error.field, "kind": error.kind, "reason": error.reason}


def parse_body(raw: bytes):
    """The JSON body of a submission, refusing what is not UTF-8 JSON.

    Raises:
        IntakeError: what is wrong with the body (JSON nested deeper than Python's parser recurses, e.g.
            100,000 levels, included: a submission is a list of flat records).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntakeError(f"body is not UTF-8 (byte {exc.start})") from exc
    try:
        return json.loads(text)
    except RecursionError:
        raise IntakeError("JSON nested too deep; a submission is a list of flat records") from None
    except ValueError as exc:
        raise IntakeError(f"body is not JSON: {exc}") from exc


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
        if request.content_type != "application/json":
            return web.json_response(
                {"error": f"Content-Type is {request.content_type!r}; send the records as application/json"},
                status=415,
            )
        try:
            body = parse_body(await request.read())
        except IntakeError as exc:
            return web.json_response({"error": str(exc)}, status=400)
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
    await web.TCPSite(runner, settings.web_host, settings.intake_port).start()
    return runner
