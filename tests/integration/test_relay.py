"""The confirmation relay against the court simulator served in the test over real HTTP (uvicorn on loopback): a
third of first deliveries fail (503, or recorded but answered after the relay's time-out), yet every request
reaches its court exactly once, also across a restart and a crash between delivery and log; late requests are
flagged and never sent; undelivered ones near their deadline raise an alert; a missing identity holds a request."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import sqlalchemy as sa

from casehub.domain.directory import CourtDirectory, CourtEntry, ReferenceData
from casehub.ground.publish import MemoryPublisher
from casehub.ground.topics import Topics
from casehub.run.broker import free_port
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.memory import MemoryRegistry
from casehub.sinks.case_view import create_engine, upsert_cases
from casehub.sinks.confirmation_relay import ConfirmationRelay, entry_from_json
from casehub.sinks.view_tables import alerts, confirmation_deliveries, confirmation_requests
from tests.support.court import EMPLOYER_ADDRESS, TODAY, WORKER_ADDRESS, Court, Refusing, at_court, cases, make_relay
from tests.support.view import REF

T = Topics("relay.")


def relay(engine, publisher, ref, identities=True, clock=lambda: TODAY) -> ConfirmationRelay:
    return make_relay(engine, AvroCodec(MemoryRegistry(), prefix=T.prefix), T, publisher, ref, identities, clock)


@pytest.fixture
def engine(tmp_path):
    eng = create_engine(f"sqlite:///{tmp_path / 'view.db'}")
    yield eng
    eng.dispose()


def states(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                sa.select(confirmation_requests.c.state, sa.func.count()).group_by(confirmation_requests.c.state)
            ).all()
        )


async def test_every_request_reaches_its_court_once_though_a_third_of_deliveries_fail(engine):
    async with Court(fail_share=1 / 3) as court:
        with engine.begin() as conn:
            upsert_cases(conn, cases(12), court.ref)
        publisher = MemoryPublisher()
        first = relay(engine, publisher, court.ref)
        await first.run_once()
        await first.close()
        assert states(engine) == {"DELIVERED": 12}
        seen = await court.stats()
        assert seen["received"] == 12 and seen["agreements_received_twice"] == [] and seen["identities_complete"]
        assert sum(seen["failures"].values()) >= 2  # the simulator did fail some first deliveries
        assert seen["duplicates"] == seen["failures"].get("TIMEOUT", 0)  # a timed-out one came again, as a duplicate
        with engine.connect() as conn:
            outcomes = [r.outcome for r in conn.execute(sa.select(confirmation_deliveries.c.outcome))]
        assert "DELIVERED" in outcomes and any(o in ("HTTP_503", "TIMEOUT") for o in outcomes)

        # a restarted relay replays its log and sends nothing again
        entries = [entry_from_json(v.decode()) for _, v in publisher.on(T.confirmation_log)]
        again = relay(engine, MemoryPublisher(), court.ref)
        await again.replay(entries)
        assert await again.run_once() == {}
        await again.close()
        assert (await court.stats())["received"] == 12 and (await court.stats())["duplicates"] == seen["duplicates"]


async def test_a_crash_after_delivery_sends_again_with_the_same_key_and_the_court_keeps_one(engine):
    async with Court(fail_share=0) as court:
        with engine.begin() as conn:
            upsert_cases(conn, cases(1), court.ref)
        broken = MemoryPublisher(
            fail=lambda topic, k, v: OSError("broker away") if topic == T.confirmation_log else None
        )
        crashing = relay(engine, broken, court.ref)
        with pytest.raises(OSError):
            await crashing.run_once()  # delivered, but the log never heard of it
        await crashing.close()
        assert states(engine) == {"PENDING": 1}
        after = relay(engine, MemoryPublisher(), court.ref)
        await after.run_once()
        await after.close()
        seen = await court.stats()
        assert (seen["received"], seen["duplicates"]) == (1, 1) and states(engine) == {"DELIVERED": 1}


async def test_a_late_request_is_flagged_and_never_sent_and_a_near_one_raises_an_alert(engine):
    async with Court(fail_share=0) as court:
        late, near = cases(1, effective=dt.date(2026, 10, 1)), cases(2, effective=dt.date(2026, 10, 28))[1:]
        with engine.begin() as conn:
            upsert_cases(conn, late + near, court.ref)
        publisher = MemoryPublisher()
        r = relay(engine, publisher, court.ref)
        assert await r.run_once() == {"EXPIRED": 1, "DELIVERED": 1}
        await r.close()
        assert (await court.stats())["received"] == 1
        with engine.connect() as conn:
            kinds = sorted(conn.execute(sa.select(alerts.c.kind)).scalars())
        assert kinds == ["DEADLINE_APPROACHING", "DEADLINE_MISSED"]
        assert len(publisher.on(T.alerts)) == 2


async def test_a_missing_identity_holds_the_request(engine):
    async with Court(fail_share=0) as court:
        with engine.begin() as conn:
            upsert_cases(conn, cases(1), court.ref)
        publisher = MemoryPublisher()
        r = relay(engine, publisher, court.ref, identities=False)
        assert await r.run_once() == {"WAITING_IDENTITY": 1}
        r.later.clear()  # as if the pause after a pass without progress were over
        assert await r.run_once() == {"WAITING_IDENTITY": 1}
        await r.close()
        assert len(publisher.on(T.confirmation_log)) == 1  # logged when the state changed, not on every pass
        assert (await court.stats())["received"] == 0
        with engine.connect() as conn:
            assert "identity not yet known" in conn.execute(sa.select(confirmation_requests.c.last_error)).scalar_one()


async def test_a_court_that_stays_down_is_retried_less_and_less_often(engine):
    dead = CourtDirectory(
        (CourtEntry("辽0102", "和平法院", "BASIC", ("210102",), "http", f"http://127.0.0.1:{free_port()}/x"),)
    )
    ref = ReferenceData(REF.roster, dead)
    with engine.begin() as conn:
        upsert_cases(conn, cases(1), ref)
    r = relay(engine, MemoryPublisher(), ref)
    assert await r.run_once() == {"PENDING": 1}
    assert await r.run_once() == {}  # paused: not tried again on the very next pass
    await r.close()
    with engine.connect() as conn:
        outcomes = conn.execute(sa.select(confirmation_deliveries.c.outcome)).scalars().all()
        error = conn.execute(sa.select(confirmation_requests.c.last_error)).scalar_one()
    assert outcomes == ["CONNECTION"] * 6 and error.startswith("CONNECTION")  # six attempts with backoff in one pass


async def test_a_court_that_consumes_kafka_gets_the_request_on_the_restricted_topic(engine):
    kafka_court = CourtDirectory((CourtEntry("辽0102", "和平法院", "BASIC", ("210102",), "kafka", None),))
    ref = ReferenceData(REF.roster, kafka_court)
    with engine.begin() as conn:
        upsert_cases(conn, cases(2), ref)
    publisher = MemoryPublisher()
    r = relay(engine, publisher, ref)
    assert await r.run_once() == {"DELIVERED": 2}
    sent = publisher.on(T.confirmation_requests)
    assert len(sent) == 2
    request = r.codec.decode(sent[0][1])
    assert sent[0][0] == request["request_id"].encode()
    applicants = {p["role"]: p for p in request["applicants"]}
    worker, employer = applicants["WORKER"], applicants["EMPLOYER"]
    assert worker["id_number"] == "210102199001011234" and request["deadline"] == dt.date(2026, 12, 20)
    assert worker["address"] == WORKER_ADDRESS  # service addresses and the legal representative, for the court
    assert (employer["address"], employer["legal_representative"]) == (EMPLOYER_ADDRESS, "李强")
    # the log, the view and every other topic hold no identity: only this restricted topic does
    for topic, _, _, value in publisher.messages:
        if topic != T.confirmation_requests:
            assert b"210102199001011234" not in value, topic
            assert WORKER_ADDRESS.encode() not in value and EMPLOYER_ADDRESS.encode() not in value, topic
    assert states(engine) == {"DELIVERED": 2}
    with engine.connect() as conn:
        stored = conn.execute(sa.select(confirmation_requests.c.request)).scalars().all()
    assert stored and not [r for r in stored if "210102199001011234" in r or WORKER_ADDRESS in r]


def view_of(engine) -> dict:
    from casehub.sinks.rebuild import content_of

    return content_of(engine)


def rebuilt(tmp_path, entries: list[dict], records: list[dict], ref, alert_values, compacted: bool) -> dict:
    """What `casehub rebuild-view` makes of this log, these case versions and these alerts (its order of reading)."""
    from casehub.sinks.case_view import add_alerts, apply_log_entry

    if compacted:  # what a compacted log keeps: the latest entry of each request
        entries = list({e["request"]["request_id"]: e for e in entries}.values())
    eng = create_engine(f"sqlite:///{tmp_path / ('compacted.db' if compacted else 'rebuilt.db')}")
    with eng.begin() as conn:
        for entry in entries:
            apply_log_entry(conn, entry)
        upsert_cases(conn, records, ref)
        add_alerts(conn, alert_values)
    out = view_of(eng)
    eng.dispose()
    return out


async def test_a_request_whose_agreement_reaches_a_court_first_is_withdrawn_and_never_sent(engine, tmp_path):
    """The agreement is judged eligible, then the court's own 民特 record arrives before the relay's pass: the
    court already has an application, so the never-sent request is withdrawn; a rebuild agrees."""
    async with Court(fail_share=0) as court:
        first = cases(1)[0]
        later = at_court(first, 8)
        with engine.begin() as conn:
            upsert_cases(conn, [first], court.ref)
        with engine.begin() as conn:
            upsert_cases(conn, [later], court.ref)
        publisher = MemoryPublisher()
        r = relay(engine, publisher, court.ref)
        assert await r.run_once() == {"WITHDRAWN": 1}
        assert await r.run_once() == {}
        await r.close()
        assert (await court.stats())["received"] == 0
        with engine.connect() as conn:
            row = conn.execute(sa.select(confirmation_requests)).one()
        assert row.state == "WITHDRAWN" and "a court already has an application" in row.last_error
        entries = [entry_from_json(v.decode()) for _, v in publisher.on(T.confirmation_log)]
        assert [e["state"] for e in entries] == ["WITHDRAWN"]
        for compacted in (False, True):
            assert rebuilt(tmp_path, entries, [later], court.ref, [], compacted) == view_of(engine)


async def test_an_expired_request_is_withdrawn_with_its_alert_when_the_court_record_arrives(engine, tmp_path):
    """Agreement first (flagged EXPIRED, DEADLINE_MISSED raised), the court's 民特 record later: the request is
    withdrawn and the false alert leaves the view; a rebuild from the log, full or compacted, agrees."""
    async with Court(fail_share=0) as court:
        first = cases(1, effective=dt.date(2026, 10, 1))[0]
        with engine.begin() as conn:
            upsert_cases(conn, [first], court.ref)
        publisher = MemoryPublisher()
        r = relay(engine, publisher, court.ref)
        assert await r.run_once() == {"EXPIRED": 1}
        with engine.connect() as conn:
            assert conn.execute(sa.select(alerts.c.kind)).scalars().all() == ["DEADLINE_MISSED"]
        later = at_court(first, 8)
        with engine.begin() as conn:
            upsert_cases(conn, [later], court.ref)
        assert await r.run_once() == {"WITHDRAWN": 1}
        await r.close()
        assert (await court.stats())["received"] == 0
        with engine.connect() as conn:
            assert conn.execute(sa.select(confirmation_requests.c.state)).scalar_one() == "WITHDRAWN"
            assert conn.execute(sa.select(alerts)).all() == []
            attempts = conn.execute(sa.select(confirmation_deliveries.c.outcome)).scalars().all()
        assert attempts == ["EXPIRED"]
        entries = [entry_from_json(v.decode()) for _, v in publisher.on(T.confirmation_log)]
        assert [e["state"] for e in entries] == ["EXPIRED", "WITHDRAWN"]
        raised = [r.codec.decode(v) for _, v in publisher.on(T.alerts)]
        for compacted in (False, True):
            assert rebuilt(tmp_path, entries, [first, later], court.ref, raised, compacted) == view_of(engine)


async def test_a_withdrawn_request_whose_agreement_is_eligible_again_is_sent_once(engine, tmp_path):
    """An operator splits the wrongly linked 民特 record out of the case: the agreement is eligible again, its
    withdrawn (never sent) request is reinstated and reaches the court once."""
    async with Court(fail_share=0) as court:
        first = cases(1)[0]
        with engine.begin() as conn:
            upsert_cases(conn, [first, at_court(first, 8)], court.ref)  # the batch keeps version 8 only
        publisher = MemoryPublisher()
        r = relay(engine, publisher, court.ref)
        assert await r.run_once() == {}  # version 8 alone: never eligible, no request
        with engine.begin() as conn:
            upsert_cases(conn, [{**copy.deepcopy(first), "version": 9}], court.ref)
            upsert_cases(conn, [at_court(first, 10)], court.ref)
        assert await r.run_once() == {"WITHDRAWN": 1}
        split = {**copy.deepcopy(first), "version": 11}
        with engine.begin() as conn:
            upsert_cases(conn, [split], court.ref)
        assert await r.run_once() == {"DELIVERED": 1}
        assert await r.run_once() == {}
        await r.close()
        seen = await court.stats()
        assert seen["received"] == 1 and seen["agreements_received_twice"] == []
        entries = [entry_from_json(v.decode()) for _, v in publisher.on(T.confirmation_log)]
        assert [e["state"] for e in entries] == ["WITHDRAWN", "DELIVERED"]
        for compacted in (False, True):
            assert rebuilt(tmp_path, entries, [split], court.ref, [], compacted) == view_of(engine)


async def test_a_compacted_log_keeps_every_delivery_attempt(engine, tmp_path):
    """Failed attempts in one pass, delivery in a later one: the latest log entry alone restores both."""
    async with Court(fail_share=0) as court:
        dead = ReferenceData(
            REF.roster,
            CourtDirectory(
                (CourtEntry("辽0102", "和平法院", "BASIC", ("210102",), "http", f"http://127.0.0.1:{free_port()}/x"),)
            ),
        )
        with engine.begin() as conn:
            upsert_cases(conn, cases(1), court.ref)
        publisher = MemoryPublisher()
        down = relay(engine, publisher, dead)
        assert await down.run_once() == {"PENDING": 1}
        await down.close()
        up = relay(engine, publisher, court.ref)
        assert await up.run_once() == {"DELIVERED": 1}
        await up.close()
        entries = [entry_from_json(v.decode()) for _, v in publisher.on(T.confirmation_log)]
        assert len(entries[-1]["deliveries"]) == 7  # six refused connections, then the delivery
        assert rebuilt(tmp_path, entries, cases(1), court.ref, [], True) == view_of(engine)


async def test_a_request_withdrawn_while_a_pass_runs_is_not_sent(engine):
    """The pass read the request as pending; the court's record came in before the pass reached it."""
    async with Court(fail_share=0) as court:
        first = cases(1)[0]
        with engine.begin() as conn:
            upsert_cases(conn, [first], court.ref)
        r = relay(engine, MemoryPublisher(), court.ref)
        ((request, attempts, state, error),) = r._open()  # what the pass read
        with engine.begin() as conn:
            upsert_cases(conn, [at_court(first, 8)], court.ref)
        assert await r._handle(request, attempts, TODAY.date(), (state, error)) == "WITHDRAWN"
        await r.close()
        assert (await court.stats())["received"] == 0 and states(engine) == {"WITHDRAWN": 1}


async def test_an_agreement_whose_number_is_corrected_after_delivery_is_not_sent_again(engine):
    """The platform corrected the agreement's number (a later version of the same record): the court keeps the
    one application it has; the simulator, which knows an agreement by its source record, saw it once."""
    async with Court(fail_share=0) as court:
        first = cases(1)[0]
        with engine.begin() as conn:
            upsert_cases(conn, [first], court.ref)
        r = relay(engine, MemoryPublisher(), court.ref)
        assert await r.run_once() == {"DELIVERED": 1}
        corrected = copy.deepcopy(first)
        corrected["version"] = 8
        corrected["agreements"][0]["agreement"]["number"] += "（更正）"
        with engine.begin() as conn:
            upsert_cases(conn, [corrected], court.ref)
        assert await r.run_once() == {}
        await r.close()
        seen = await court.stats()
        assert seen["received"] == 1 and seen["agreements_received_twice"] == [] and states(engine) == {"DELIVERED": 1}


@pytest.mark.parametrize(
    "status, state, outcome",
    [(422, "REFUSED", "REFUSED_422"), (401, "PENDING", "BLOCKED_401"), (404, "PENDING", "BLOCKED_404")],
)
async def test_a_court_that_refuses_raises_an_alert_and_a_blocked_endpoint_is_tried_again_later(
    engine, status, state, outcome
):
    """A 4xx about the request itself (422) ends it REFUSED; one about casehub (401: the secret) or the endpoint
    (404) keeps it waiting, tried again after a pause, not hammered. Either way an operator hears of it at once: a
    CRITICAL CONFIRMATION_NOT_DELIVERED alert, once."""
    async with Refusing(status, "申请材料不全") as court:
        with engine.begin() as conn:
            upsert_cases(conn, cases(1), court.ref)
        publisher = MemoryPublisher()
        r = relay(engine, publisher, court.ref)
        assert await r.run_once() == {state: 1}
        assert court.seen == 1  # not retried within the pass: the same answer would come
        assert await r.run_once() == {}  # a refused one is done; a blocked one waits for its pause
        r.later.clear()
        assert await r.run_once() == ({} if state == "REFUSED" else {state: 1})
        await r.close()
        with engine.connect() as conn:
            row = conn.execute(sa.select(confirmation_requests)).one()
            kinds = conn.execute(sa.select(alerts.c.kind, alerts.c.severity)).all()
            outcomes = conn.execute(sa.select(confirmation_deliveries.c.outcome)).scalars().all()
        assert row.state == state and outcomes[0] == outcome
        assert [tuple(k) for k in kinds] == [("CONFIRMATION_NOT_DELIVERED", "CRITICAL")]
        raised = [r.codec.decode(v) for _, v in publisher.on(T.alerts)]
        assert [a["kind"] for a in raised] == ["CONFIRMATION_NOT_DELIVERED"] and str(status) in raised[0]["message"]


async def test_a_restarted_relay_keeps_what_the_sink_and_an_operator_decided_since_its_log(engine, tmp_path):
    """The log holds WAITING_IDENTITY then WITHDRAWN; the sink has since reinstated the request (the court record
    was split out). A restart replays the log: the request stays reinstated and is sent; replaying every entry in
    order walked it back to WITHDRAWN, where it stayed unsent."""
    async with Court(fail_share=0) as court:
        first = cases(1)[0]
        with engine.begin() as conn:
            upsert_cases(conn, [first], court.ref)
        publisher = MemoryPublisher()
        waiting = relay(engine, publisher, court.ref, identities=False)
        assert await waiting.run_once() == {"WAITING_IDENTITY": 1}
        with engine.begin() as conn:
            upsert_cases(conn, [at_court(first, 8)], court.ref)
        assert await waiting.run_once() == {"WITHDRAWN": 1}
        await waiting.close()
        with engine.begin() as conn:
            upsert_cases(conn, [{**copy.deepcopy(first), "version": 9}], court.ref)
        assert states(engine) == {"REINSTATED": 1}
        entries = [entry_from_json(v.decode()) for _, v in publisher.on(T.confirmation_log)]
        assert [e["state"] for e in entries] == ["WAITING_IDENTITY", "WITHDRAWN"]
        restarted = relay(engine, publisher, court.ref)
        assert await restarted.replay(entries) == 1
        assert states(engine) == {"REINSTATED": 1}
        assert await restarted.run_once() == {"DELIVERED": 1}
        await restarted.close()
        assert (await court.stats())["received"] == 1


async def test_a_request_withdrawn_between_two_attempts_gets_no_further_attempt(engine):
    """The first attempt fails (503); before the retry the court's own 民特 record comes in and the sink withdraws
    the request: the relay makes no second attempt and logs the withdrawal."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.support.court import Served

    first = cases(1)[0]
    seen = []

    async def busy_then_withdrawn(request):
        seen.append(request.headers["idempotency-key"])
        with engine.begin() as conn:  # the sink, meanwhile
            upsert_cases(conn, [at_court(first, 8)], REF)
        return JSONResponse({"error": "busy"}, status_code=503)

    app = Starlette(routes=[Route("/courts/辽0102/confirmations", busy_then_withdrawn, methods=["POST"])])
    async with Served(app) as court:
        with engine.begin() as conn:
            upsert_cases(conn, [first], court.ref)
        publisher = MemoryPublisher()
        r = relay(engine, publisher, court.ref)
        assert await r.run_once() == {"WITHDRAWN": 1}
        await r.close()
    assert len(seen) == 1
    entries = [entry_from_json(v.decode()) for _, v in publisher.on(T.confirmation_log)]
    assert [(e["state"], [d["outcome"] for d in e["deliveries"]]) for e in entries] == [("WITHDRAWN", ["HTTP_503"])]
