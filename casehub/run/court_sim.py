"""`casehub court-sim`: a reference court endpoint for demos and tests, serving every court of the directory at
POST /courts/<code>/confirmations.

It checks the signature (the court's secret from the access file), answers a configurable share of deliveries
with 503 or by not answering within the relay's time-out (after recording them: the nasty case, where the court has
the request but casehub does not know), recognises a repeated Idempotency-Key and answers it as a duplicate, and
later calls the hub back, signed with the court's token and secret: RECEIVED, then ACCEPTED with a 民特 case number,
then RULED_VALID or REJECTED. GET /stats says what each court received: requests, duplicates, and whether any
agreement came twice under different request ids (it must not).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from dataclasses import dataclass, field

import aiohttp
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from casehub.ground.access import Access, sign, signature_ok
from casehub.ground.logs import get_logger


@dataclass
class SimConfig:
    fail_share: float = 0.0  # of first deliveries: half answered 503, half left without answer past the time-out
    hang_seconds: float = 8.0  # how long a "time-out" answer takes (longer than the relay's CASEHUB_RELAY_TIMEOUT)
    reject_share: float = 0.2  # of accepted applications ruled REJECTED (the others RULED_VALID)
    delays: tuple[float, float, float] = (0.2, 0.5, 1.0)  # seconds before RECEIVED, ACCEPTED, the ruling
    seed: int = 13
    callback_url: str = "http://127.0.0.1:18080/api/court/callbacks"


@dataclass
class CourtBook:
    received: dict[str, dict] = field(default_factory=dict)  # request id -> the request
    duplicates: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # "HTTP_503" / "TIMEOUT" -> count
    agreements: dict[str, set[str]] = field(default_factory=dict)  # agreement (its source record) -> request ids
    callbacks: dict[str, list[str]] = field(default_factory=dict)  # request id -> outcomes called back


def build_sim(access: Access, court_codes: list[str], config: SimConfig) -> FastAPI:
    log = get_logger("court-sim")
    rng = random.Random(config.seed)
    books = {code: CourtBook() for code in court_codes}
    counters = {code: 0 for code in court_codes}
    tasks: set[asyncio.Task] = set()
    app = FastAPI(title="casehub court simulator", version="1")

    async def call_back(code: str, body: dict) -> None:
        token, secret = access.token_for(f"court/{code}"), access.secret_of(code)
        data = json.dumps(body, ensure_ascii=False).encode()
        async with aiohttp.ClientSession() as session:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type((aiohttp.ClientError, TimeoutError, RuntimeError)),
                wait=wait_exponential(multiplier=0.2, max=5),
                stop=stop_after_delay(120),
                reraise=True,
            ):
                with attempt:
                    stamp = str(int(dt.datetime.now(dt.UTC).timestamp()))
                    headers = {
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                        "X-Casehub-Timestamp": stamp,
                        "X-Casehub-Signature": sign(secret, stamp, data),
                    }
                    async with session.post(config.callback_url, data=data, headers=headers, timeout=10) as resp:
                        if resp.status >= 500:
                            raise RuntimeError(f"callback answered {resp.status}")
                        text = await resp.text()
                        if resp.status == 409 and "received before" in text:  # a retried callback, recorded before
                            break
                        if resp.status >= 400:
                            log.error("callback refused", status=resp.status, body=text[:300])
                            return
        books[code].callbacks.setdefault(body["request_id"], []).append(body["outcome"])

    async def rule(code: str, request: dict) -> None:
        rid = request["request_id"]
        try:
            await asyncio.sleep(config.delays[0])
            await call_back(code, {"request_id": rid, "outcome": "RECEIVED"})
            await asyncio.sleep(config.delays[1])
            counters[code] += 1
            year = dt.date.today().year
            number = f"（{year}）{code}民特{counters[code]}号"
            await call_back(code, {"request_id": rid, "outcome": "ACCEPTED", "court_case_number": number})
            await asyncio.sleep(config.delays[2])
            if rng.random() < config.reject_share:
                reason = "调解协议内容违反法律强制性规定"  # the agreement violates a mandatory provision
                await call_back(code, {"request_id": rid, "outcome": "REJECTED", "reason": reason})
            else:
                await call_back(code, {"request_id": rid, "outcome": "RULED_VALID"})
        except Exception as exc:
            log.error("callbacks stopped", request_id=rid, error=f"{type(exc).__name__}: {exc}")

    @app.post("/courts/{code}/confirmations")
    async def receive(code: str, request: Request):
        if code not in books:
            return JSONResponse({"error": f"no court {code} here"}, status_code=404)
        body = await request.body()
        secret = access.secret_of(code)
        stamp = request.headers.get("x-casehub-timestamp", "")
        if not secret or not signature_ok(secret, stamp, body, request.headers.get("x-casehub-signature")):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        key = request.headers.get("idempotency-key")
        if not key:
            return JSONResponse({"error": "Idempotency-Key header is required"}, status_code=400)
        book = books[code]
        if key in book.received:
            book.duplicates += 1
            return {"receipt_id": f"{code}-{key}", "duplicate": True}
        roll = rng.random()
        if roll < config.fail_share / 2:
            book.failures["HTTP_503"] = book.failures.get("HTTP_503", 0) + 1
            return JSONResponse({"error": "court system busy"}, status_code=503)
        doc = json.loads(body)
        book.received[key] = doc
        # one agreement is one source record, whatever number it carries (a request of before agreement_record:
        # its case and number)
        source = doc.get("agreement_record") or {}
        agreement = (
            f"{source['system']}|{source['record_id']}"
            if source
            else f"{doc['case_id']}|{(doc.get('agreement') or {}).get('number')}"
        )
        book.agreements.setdefault(agreement, set()).add(key)
        task = asyncio.create_task(rule(code, doc))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        if roll < config.fail_share:
            book.failures["TIMEOUT"] = book.failures.get("TIMEOUT", 0) + 1
            await asyncio.sleep(config.hang_seconds)  # recorded, but the answer comes too late for the relay
        log.info("confirmation request received", court=code, request_id=key)
        return JSONResponse({"receipt_id": f"{code}-{key}", "duplicate": False}, status_code=201)

    @app.get("/stats")
    async def stats():
        return {
            code: {
                "received": len(b.received),
                "duplicates": b.duplicates,
                "failures": b.failures,
                "agreements_received_twice": sorted(a for a, ids in b.agreements.items() if len(ids) > 1),
                "requests": sorted(b.received),
                "callbacks": b.callbacks,
                "deadlines": {rid: r.get("deadline") for rid, r in b.received.items()},
                "identities_complete": all(
                    all(p.get("id_number") for p in r["applicants"] if p["role"] == "WORKER")
                    for r in b.received.values()
                ),
                # what a clerk at the court would ask for before accepting (RULES: the agreement, both parties'
                # service addresses): the requests that lack it
                "without_agreement_document": sorted(rid for rid, r in b.received.items() if not r.get("documents")),
                "without_terms": sorted(
                    rid for rid, r in b.received.items() if not (r.get("agreement") or {}).get("terms")
                ),
                "without_addresses": sorted(
                    rid for rid, r in b.received.items() if not all(p.get("address") for p in r["applicants"])
                ),
            }
            for code, b in books.items()
        }

    @app.get("/healthz")
    async def health():
        return {"ok": True, "courts": sorted(books)}

    return app


async def serve_sim(settings, config: SimConfig, stop: asyncio.Event, port: int | None = None) -> None:
    """Serve the simulator for every court of the directory until `stop` is set."""
    import uvicorn

    from casehub.ground.access import load_access
    from casehub.sinks.reference import load_reference

    ref = load_reference(settings)
    if ref is None:
        raise SystemExit(f"court-sim: no court directory at {settings.court_directory_path} (or no roster)")
    app = build_sim(load_access(settings), [c.code for c in ref.directory.courts], config)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=settings.web_host, port=port or settings.court_sim_port, log_config=None, access_log=False
        )
    )
    server.install_signal_handlers = lambda: None
    task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await task
