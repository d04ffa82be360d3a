"""Order-free, proved by generation: journeys with late references, party-only links, fan-out complaints, merges
of cases that already exist and operator corrections; any permutation and any duplication of their events gives
the same final case records (redirects followed; version and the list of merged ids record history only)."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casehub.domain.rules import CaseRules
from casehub.ground.topics import Topics
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.memory import MemoryRegistry
from casehub.streams.linker import Linker
from tests.support.samples import Message

T = Topics("prop.")
UTC = dt.UTC
BASE = dt.datetime(2025, 3, 3, 9, tzinfo=UTC)
NOW = dt.datetime(2026, 12, 2, tzinfo=UTC)
WORKERS = [(f"{i:064x}", f"2101**********{i:04d}") for i in range(1, 7)]
EMPLOYERS = ["91210102MA0000001X", "91210102MA0000002Y"]
AGENCY_TOPIC = {"MEDIATION": T.mediation, "ARBITRATION": T.arbitration, "COURT": T.court, "INSPECTION": T.inspection}
SYSTEM = {"MEDIATION": "med", "ARBITRATION": "arb", "COURT": "court", "INSPECTION": "insp"}
TYPES = {
    "MEDIATION": ["APPLIED", "ACCEPTED", "FAILED", "REFERRED_TO_ARBITRATION"],
    "ARBITRATION": ["APPLIED", "ACCEPTED", "AWARD_NON_FINAL"],
    "COURT": ["FILED", "JUDGMENT"],
    "INSPECTION": ["COMPLAINT_RECEIVED", "CASE_OPENED", "HANDED_OFF_TO_ARBITRATION"],
}


def party(worker: int) -> dict:
    h, masked = WORKERS[worker]
    return {"role": "WORKER", "party_type": "PERSON", "name": f"W{worker}", "id_hash": h, "id_masked": masked}


def event(agency: str, record: int, version: int, workers, employer: int, claim: str, day: int, refs) -> dict:
    system = SYSTEM[agency]
    return {
        "event_id": f"{system}:{record}:{version}",
        "event_type": TYPES[agency][min(version, len(TYPES[agency]) - 1)],
        "source": {"system": system, "agency_kind": agency, "record_id": str(record), "record_version": str(version)},
        "occurred_at": BASE + dt.timedelta(days=day, hours=version),
        "ingested_at": NOW,
        "refs": [{"kind": kind, "system": system, "number": number, "normalised": None} for kind, number in refs],
        "parties": [
            *(party(w) for w in workers),
            {
                "role": "EMPLOYER",
                "party_type": "ORGANISATION",
                "name": f"E{employer}",
                "credit_code": EMPLOYERS[employer],
            },
        ],
        "claims": [{"type": claim}],
        "group_dispute": len(workers) >= 10,
        "worker_count": len(workers),
    }


@st.composite
def journeys(draw) -> tuple[list[tuple[str, dict]], list[dict]]:
    """Events of a few disputes and some corrections. Each dispute: a mediation, maybe an arbitration that names
    it (or not: a party-only link), whose own number may appear only on its later version, maybe a court case
    naming that number; sometimes a complaint for several workers that covers their disputes."""
    events, record = [], iter(range(1, 10**6))
    disputes = draw(st.integers(1, 4))
    for d in range(disputes):
        worker = draw(st.integers(0, 3))
        employer = draw(st.integers(0, 1))
        claim = draw(st.sampled_from(["WAGES", "OVERTIME", "WORK_INJURY_MEDICAL"]))
        day = draw(st.integers(0, 400))
        m, m_no = next(record), f"沈和调〔2025〕{d + 1:04d}号"
        for v in range(draw(st.integers(1, 3))):
            events.append(
                ("MEDIATION", event("MEDIATION", m, v, [worker], employer, claim, day, [("MEDIATION", m_no)]))
            )
        if draw(st.booleans()):
            a, a_no = next(record), f"沈劳人仲案字〔2025〕第{d + 1}号"
            names_mediation = draw(st.booleans())
            late_number = draw(st.booleans())
            for v in range(draw(st.integers(1, 3))):
                refs = (
                    [("MEDIATION", draw(st.sampled_from([m_no, m_no.replace("〔", "[").replace("〕", "]")])))]
                    if names_mediation
                    else []
                )
                if not late_number or v > 0:
                    refs.append(("ARBITRATION", a_no))
                events.append(("ARBITRATION", event("ARBITRATION", a, v, [worker], employer, claim, day + 20, refs)))
            if draw(st.booleans()):
                c = next(record)
                number = draw(st.sampled_from([a_no, a_no.replace("第", ""), "沈劳人仲案字(２０２５)" + f"{d + 1}号"]))
                for v in range(draw(st.integers(1, 2))):
                    events.append(
                        (
                            "COURT",
                            event("COURT", c, v, [worker], employer, "OTHER", day + 80, [("ARBITRATION", number)]),
                        )
                    )
    if draw(st.booleans()):  # a complaint naming several workers of one employer
        k, workers = next(record), sorted(draw(st.sets(st.integers(0, 5), min_size=2, max_size=4)))
        for v in range(draw(st.integers(1, 2))):
            events.append(
                (
                    "INSPECTION",
                    event(
                        "INSPECTION",
                        k,
                        v,
                        workers,
                        0,
                        "WAGES",
                        draw(st.integers(0, 400)),
                        [("INSPECTION", f"TS2101022025{k:05d}")],
                    ),
                )
            )
    keys = sorted({(e["source"]["system"], e["source"]["record_id"]) for _, e in events})
    corrections = []
    for i in range(draw(st.integers(0, 2))):
        action = draw(st.sampled_from(["SPLIT", "JOIN"]))
        chosen = (
            draw(
                st.lists(
                    st.sampled_from(keys),
                    min_size=1 if action == "SPLIT" else 2,
                    max_size=1 if action == "SPLIT" else 2,
                    unique=True,
                )
            )
            if len(keys) >= 2 or action == "SPLIT"
            else []
        )
        if chosen:
            corrections.append(
                {
                    "correction_id": f"corr-{i}",
                    "action": action,
                    "records": [{"system": s, "record_id": r} for s, r in chosen],
                    "case_ids": [],
                    "issued_at": NOW + dt.timedelta(minutes=i),
                    "operator": "test",
                    "reason": "",
                }
            )
    return events, corrections


def messages(codec, events, corrections) -> list[Message]:
    out = [Message(AGENCY_TOPIC[a], 0, i, None, codec.encode(AGENCY_TOPIC[a], e)) for i, (a, e) in enumerate(events)]
    out += [Message(T.corrections, 0, i, None, codec.encode(T.corrections, c)) for i, c in enumerate(corrections)]
    return out


def final(codec, batches) -> dict:
    link, latest = Linker(codec, T, CaseRules(), lambda: NOW), {}
    for batch in batches:
        for topic, _, value in link.step(batch).messages:
            if topic == T.cases:
                record = codec.decode(value)
                latest[record["case_id"]] = record
    live = {cid: r for cid, r in latest.items() if r["merged_into"] is None}
    # every id ever published resolves to a live case (redirects followed), and only live ids are live
    for cid, r in latest.items():
        seen = {cid}
        while latest[cid]["merged_into"]:
            cid = latest[cid]["merged_into"]
            assert cid not in seen, "a redirect cycle"
            seen.add(cid)
        assert cid in live, f"{r['case_id']} redirects to a case that is not live"
    return {cid: {k: v for k, v in r.items() if k not in ("version", "redirects")} for cid, r in live.items()}


CODEC = AvroCodec(MemoryRegistry(), prefix=T.prefix)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(journeys(), st.randoms(use_true_random=False), st.integers(1, 5))
def test_every_order_and_duplication_gives_the_same_cases(journey, rng, batch):
    events, corrections = journey
    batch_all = messages(CODEC, events, corrections)
    once = final(CODEC, [batch_all])
    shuffled = rng.sample(batch_all, len(batch_all))
    duplicated = shuffled + rng.sample(batch_all, len(batch_all) // 2)
    in_batches = [duplicated[i : i + batch] for i in range(0, len(duplicated), batch)]
    assert final(CODEC, in_batches) == once
    assert final(CODEC, [[m] for m in reversed(batch_all)]) == once
    # every event is in exactly the cases its record is in, once each
    placed = {}
    for cid, case in once.items():
        for link in case["links"]:
            placed.setdefault(link["event_id"], []).append(cid)
    assert set(placed) == {e["event_id"] for _, e in events}
    assert all(len(set(v)) == len(v) for v in placed.values())
