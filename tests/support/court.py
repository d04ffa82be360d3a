"""The court side of the confirmation tests: the court simulator served in the test's event loop over real HTTP
(uvicorn on loopback), cases with one eligible agreement each, the same case once the court's own 民特 record
arrived, and a relay wired to any codec, topics and publisher."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt

import uvicorn

from casehub.domain.directory import CourtDirectory, CourtEntry, ReferenceData
from casehub.ground.access import Access, Role
from casehub.run.broker import free_port
from casehub.run.court_sim import SimConfig, build_sim
from casehub.sinks.confirmation_relay import ConfirmationRelay, IdentityBook
from tests.support.view import REF, agreement_case

ACCESS = Access({"court-token": Role("court", "辽0102")}, {"辽0102": "court-secret"})
TODAY = dt.datetime(2026, 11, 25, 2, tzinfo=dt.UTC)
WORKER_ID = "210102199001011234"
WORKER_ADDRESS = "沈阳市和平区南京南街1号"
EMPLOYER_ADDRESS = "沈阳市沈河区青年大街9号"


def cases(n: int, effective=dt.date(2026, 11, 20)) -> list[dict]:
    """n cases CH0000.. of version 7, each with one agreement of its own (eligible with the court's `ref`)."""
    out = []
    for i in range(n):
        c = copy.deepcopy(agreement_case(7, effective=effective))
        c["case_id"] = f"CH{i:04d}"
        c["agreements"][0]["record_id"] = f"r{i}"
        c["agreements"][0]["agreement"]["number"] = f"沈和调〔2026〕{i:04d}号"
        out.append(c)
    return out


def at_court(case: dict, version: int) -> dict:
    """The same case, a later version, after the court's own system filed an application (民特) for it."""
    later = copy.deepcopy(case)
    later["version"] = version
    later["stages"] = later["stages"] + [
        {
            **later["stages"][0],
            "agency_kind": "COURT",
            "kind": "JUDICIAL_CONFIRMATION",
            "stage": "JUDICIAL_CONFIRMATION",
            "status": "ACCEPTED",
            "system": "court-sys",
            "record_id": "m1",
            "case_number": "(2026)辽0102民特1号",
        }
    ]
    return later


def again(case: dict, version: int) -> dict:
    """The same case as a later version with nothing else changed (e.g. a wrongly linked record split out)."""
    return {**copy.deepcopy(case), "version": version}


class Served:
    """An ASGI app on a free loopback port, served by uvicorn in the test's event loop, as a court's endpoint."""

    def __init__(self, app):
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None))
        self.server.install_signal_handlers = lambda: None

    async def __aenter__(self):
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:  # uvicorn's own readiness flag
            assert not self.task.done(), "the court endpoint did not start"
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc):
        self.server.should_exit = True
        await self.task

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/courts/辽0102/confirmations"

    @property
    def ref(self) -> ReferenceData:
        entry = CourtEntry("辽0102", "和平法院", "BASIC", ("210102",), "http", self.url)
        return ReferenceData(REF.roster, CourtDirectory((entry,)))


class Court(Served):
    """The court simulator (casehub court-sim)."""

    def __init__(self, fail_share: float):
        config = SimConfig(fail_share=fail_share, hang_seconds=1.0, delays=(1000, 1000, 1000), seed=3)
        super().__init__(build_sim(ACCESS, ["辽0102"], config))

    async def stats(self) -> dict:
        import aiohttp

        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{self.port}/stats") as resp:
            return (await resp.json())["辽0102"]


class Refusing(Served):
    """A court endpoint that answers every request with one 4xx status."""

    def __init__(self, status: int, text: str):
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def refuse(request):
            self.seen += 1
            return JSONResponse({"error": text}, status_code=status)

        self.seen = 0
        super().__init__(Starlette(routes=[Route("/courts/辽0102/confirmations", refuse, methods=["POST"])]))


def make_relay(engine, codec, topics, publisher, ref, identities=True, clock=lambda: TODAY) -> ConfirmationRelay:
    """A relay of the tests: the worker of `agreement_case` known on the identity book (unless identities=False),
    short time-outs and back-off."""
    book = IdentityBook()
    if identities:
        parties = {p["role"]: p for p in agreement_case(7)["parties"]}
        worker, employer = parties["WORKER"], parties["EMPLOYER"]
        book.add(
            {
                "id_hash": worker["id_hash"],
                "name": "王伟",
                "id_number": WORKER_ID,
                "phone": "13800000000",
                "address": WORKER_ADDRESS,
            }
        )
        book.add(
            {
                "id_hash": "org-hash",
                "party_type": "ORGANISATION",
                "name": employer["name"],
                "credit_code": employer["credit_code"],
                "address": EMPLOYER_ADDRESS,
                "legal_representative": "李强",
            }
        )
    book.ready.set()
    return ConfirmationRelay(engine, codec, topics, publisher, ACCESS, ref, book, clock, timeout=0.5, backoff=0.01)
