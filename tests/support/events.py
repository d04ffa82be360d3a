"""Hand-written mediation events of one case, for the case rules and the case view's tests."""

from __future__ import annotations

import datetime as dt

from casehub.domain.cases import CaseInput, build_case
from casehub.domain.linking import LinkIndex, node_of, render_links
from casehub.domain.rules import CaseRules

UTC = dt.UTC


def event(
    n: int, etype: str = "APPLIED", minutes: int = 0, number: str = "沈和调〔2024〕0001号", agreement=None, parties=None
) -> dict:
    return {
        "event_id": f"sys:{n}",
        "event_type": etype,
        "source": {"system": "sys", "agency_kind": "MEDIATION", "record_id": str(n), "record_version": str(minutes)},
        "occurred_at": dt.datetime(2024, 3, 1, 9, tzinfo=UTC) + dt.timedelta(minutes=minutes),
        "ingested_at": dt.datetime(2024, 3, 2, tzinfo=UTC),
        "refs": [{"kind": "MEDIATION", "system": "sys", "number": number, "normalised": None}],
        "parties": parties or [{"role": "WORKER", "party_type": "PERSON", "name": "王伟", "id_hash": "a" * 64}],
        "claims": [],
        "documents": [],
        "group_dispute": False,
        "worker_count": None,
        "agreement": agreement,
    }


EVENTS = [
    event(1, "APPLIED", 0),
    event(2, "ACCEPTED", 10),
    event(
        3,
        "AGREEMENT_SIGNED",
        20,
        agreement={
            "number": "A1",
            "signed_at": dt.datetime(2024, 3, 1, 9, 20, tzinfo=UTC),
            "effective_date": dt.date(2024, 3, 1),
        },
    ),
    event(
        4,
        "AGREEMENT_SIGNED",
        30,
        agreement={
            "number": "A2",
            "signed_at": dt.datetime(2024, 3, 1, 9, 30, tzinfo=UTC),
            "effective_date": dt.date(2024, 3, 2),
        },
        parties=[{"role": "EMPLOYER", "party_type": "ORGANISATION", "name": "华锐", "credit_code": "X"}],
    ),
    event(5, "AGREEMENT_PERFORMED", 40),
]


TODAY = dt.date(2026, 12, 2)


def fold(events, agency: str = "MEDIATION", today: dt.date = TODAY) -> dict:
    """The case record of events that all belong to one case, as the worker builds it (version = how many events)."""
    rules = CaseRules()
    index = LinkIndex(rules.party_match)
    by_id = {}
    for e in events:
        index.add(node_of(agency, e))
        by_id[e["event_id"]] = e
    (case,) = index.resolve(index.neighbourhood(index.records))
    links = render_links(case, index.records)
    core = tuple((agency, by_id[n.event_id]) for k in case.core for n in index.records[k].events)
    return build_case(CaseInput(case.case_id, case.anchor.event_id, core, (), links, version=len(by_id)), rules, today)
