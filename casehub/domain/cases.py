"""The full-chain case record (cn.casehub.CaseRecord) built from the events of one case. Pure.

`build_case` is a function of the case's events (core and attached), their link reasons and the date: any
order and any duplication of the same events gives the same record. Of values several agencies assert, the
one the authority rule chooses is shown and every candidate is kept in `provenance`
(casehub.domain.rules.DEFAULT_AUTHORITY).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from casehub.domain import deadlines as dl
from casehub.domain import stages as st
from casehub.domain.rules import CaseRules

_PLACEHOLDERS = {"NONE", "UNKNOWN", "OTHER"}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
AGREEMENT_OUTCOMES = {
    ("MEDIATION", "AGREEMENT_SIGNED"),
    ("MEDIATION", "AGREEMENT_PERFORMED"),
    ("NEGOTIATION", "SETTLEMENT_SIGNED"),
    ("MEDIATION", "SETTLEMENT_SIGNED"),
    ("ARBITRATION", "SETTLED_BY_MEDIATION"),
    ("COURT", "SETTLED_BY_COURT_MEDIATION"),
    ("COURT", "CONFIRMATION_RULED_VALID"),
}
ADJUDICATIONS = {
    ("ARBITRATION", "AWARD_FINAL"),
    ("ARBITRATION", "AWARD_NON_FINAL"),
    ("COURT", "JUDGMENT"),
    ("COURT", "PAYMENT_ORDER"),
}


@dataclass(frozen=True)
class CaseInput:
    """Everything a case record is built from.

    events: (agency, decoded event) of the core records; attached: those of covering records shown too.
    links: event id -> its LinkReason (rendered by the linker).
    """

    case_id: str
    anchor_event_id: str
    events: tuple[tuple[str, dict], ...]
    attached: tuple[tuple[str, dict], ...] = ()
    links: dict = field(default_factory=dict)
    redirects: tuple[str, ...] = ()
    version: int = 1


def _rank(value):
    # a real value beats a placeholder; then any fixed order, so the choice never depends on arrival
    return (value not in _PLACEHOLDERS if isinstance(value, str) else True, type(value).__name__, repr(value))


def combine(a: dict, b: dict) -> dict:
    """Merge two versions of the same party, document... field by field, independent of order:
    a value beats nothing, flags are OR-ed, nested records merge, and of two values the higher rank wins."""
    out = {}
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if x is None or x == y:
            out[k] = y if x is None else x
        elif y is None:
            out[k] = x
        elif isinstance(x, bool) and isinstance(y, bool):
            out[k] = x or y
        elif isinstance(x, dict) and isinstance(y, dict):
            out[k] = combine(x, y)
        else:
            out[k] = max(x, y, key=_rank)
    return out


def _union(items, key) -> list:
    out: dict = {}
    for item in items:
        k = key(item)
        out[k] = combine(out[k], item) if k in out else item
    return [out[k] for k in sorted(out, key=lambda k: tuple("" if x is None else str(x) for x in k))]


def _party_key(p: dict):
    return (
        p.get("role"),
        p.get("id_hash") or "",
        p.get("credit_code") or "",
        "" if p.get("id_hash") or p.get("credit_code") else p.get("name"),
    )


def _claim_key(c: dict):
    return (c.get("type"), (c.get("amount") or {}).get("amount_fen"), c.get("description") or "")


def _order(e: dict):
    # Two changes of a record in one second share occurred_at; the connector read the later one later, so
    # ingested_at breaks the tie (the event id only when both are equal: a hash says nothing of order).
    return (e["occurred_at"], e.get("_ingested_at") or e.get("ingested_at") or e["occurred_at"], e["event_id"])


def _money(fen: int | None) -> dict | None:
    return None if fen is None else {"amount_fen": fen, "currency": "CNY"}


def summary(agency: str, event: dict) -> str:
    src = event["source"]
    return f"{agency.lower()} {event['event_type'].lower().replace('_', ' ')} ({src['system']} {src['record_id']})"


def _timeline(records: dict, attached_records: set, kinds: dict) -> list[dict]:
    """Transitions in time order: consecutive events of one record with one event type (the main row and its
    status history reporting one change, an unchanged status re-read) are one entry listing every event."""
    entries = []
    for key, (agency, events) in records.items():
        previous = None
        for e in events:
            if previous is not None and previous["event_type"] == e["event_type"]:
                previous["event_ids"].append(e["event_id"])
                continue
            previous = {
                "event_id": e["event_id"],
                "agency_kind": "MEDIATION" if agency == "NEGOTIATION" else agency,
                "event_type": e["event_type"],
                "occurred_at": e["occurred_at"],
                "source": e["source"],
                "summary": summary(agency, e),
                "event_ids": [e["event_id"]],
                "case_number": st.own_number(e),
                "stage_kind": kinds[key],
                "attached": key in attached_records,
                "_ingested_at": e.get("ingested_at"),
            }
            entries.append(previous)
    for entry in entries:
        entry["event_ids"] = sorted(entry["event_ids"])
    entries.sort(key=_order)
    for entry in entries:
        del entry["_ingested_at"]
    return entries


def _candidates(records: dict) -> dict[str, list[dict]]:
    """Per provenance field, the value each source record's latest event asserts (ValueSource dicts)."""
    out: dict[str, list[dict]] = {}

    def add(field_: str, value, agency: str, e: dict):
        if value is None:
            return
        out.setdefault(field_, []).append(
            {
                "field": field_,
                "value": str(value),
                "agency_kind": "MEDIATION" if agency == "NEGOTIATION" else agency,
                "system": e["source"]["system"],
                "record_id": e["source"]["record_id"],
                "event_id": e["event_id"],
                "occurred_at": e["occurred_at"],
                "chosen": False,
                "rule": "",
                "_value": value,
                "_agency": agency,
                "_ingested_at": e.get("ingested_at") or e["occurred_at"],
            }
        )

    for agency, events in records.values():
        last = events[-1]
        fen = [(c.get("amount") or {}).get("amount_fen") for c in last.get("claims") or []]
        fen = [f for f in fen if f is not None]
        add("amounts.claimed", sum(fen) if fen else None, agency, last)
        agreement = next((e.get("agreement") for e in reversed(events) if e.get("agreement")), None)
        if agreement:
            add("amounts.agreed", (agreement.get("amount") or {}).get("amount_fen"), agency, last)
            add("agreement.effective_date", agreement.get("effective_date"), agency, last)
        award = next((e for e in reversed(events) if e.get("award")), None)
        if award is not None:
            add("amounts.awarded", ((award["award"].get("amount") or {}).get("amount_fen")), agency, award)
        performed = next((e for e in reversed(events) if e["event_type"] == "AGREEMENT_PERFORMED"), None)
        if performed is not None and agreement:
            add("amounts.paid", (agreement.get("amount") or {}).get("amount_fen"), agency, performed)
    return out


def _choose(candidates: dict[str, list[dict]], rules: CaseRules) -> tuple[dict, list[dict]]:
    """The chosen value per field and every candidate marked, by the authority rule: the first agency in
    the field's order that asserted a value, then its latest assertion (ties by the later ingested_at,
    then event id)."""
    chosen, sources = {}, []
    for field_, items in sorted(candidates.items()):
        order = rules.authority.get(field_, ())
        rank = {agency: i for i, agency in enumerate(order)}
        best = min(
            items,
            key=lambda c: (
                rank.get(c["_agency"], len(order)),
                -c["occurred_at"].timestamp(),
                -c["_ingested_at"].timestamp(),
                c["event_id"],
            ),
        )
        described = " > ".join(order) if order else "latest"
        for c in sorted(items, key=_order):
            out = {k: v for k, v in c.items() if not k.startswith("_")}
            out["chosen"] = c is best
            out["rule"] = f"{described}; latest of the same agency"
            sources.append(out)
        chosen[field_] = best["_value"]
    return chosen, sources


def _agreements(
    records: dict, court_kinds: dict[str, dt.datetime], stage_starts: list[tuple[str, dt.datetime]]
) -> list[dict]:
    out = []
    for _agency, events in records.values():
        signed = [e for e in events if e.get("agreement")]
        if not signed:
            continue
        latest = signed[-1]
        a = latest["agreement"]
        if not a.get("court_invited"):  # a mediation a court delegated: that court may confirm its agreement
            delegated = next((e["delegated_by_court"] for e in reversed(events) if e.get("delegated_by_court")), None)
            if delegated:
                a = {**a, "court_invited": delegated}
        types = {e["event_type"]: e["occurred_at"] for e in reversed(events)}
        performed, defaulted = (
            types.get("AGREEMENT_PERFORMED"),
            types.get("AGREEMENT_DEFAULTED") or types.get("SETTLEMENT_DEFAULTED"),
        )
        signed_at = a.get("signed_at") or latest["occurred_at"]
        followed = []
        if "JUDICIAL_CONFIRMATION" in court_kinds:
            followed.append("JUDICIAL_CONFIRMATION")
        if "ARBITRATION_REVIEW_APPLIED" in types:
            followed.append("ARBITRATION_REVIEW")
        if any(kind == "ARBITRATION" and at > signed_at for kind, at in stage_starts):
            followed.append("ARBITRATION")
        if "PAYMENT_ORDER" in court_kinds:
            followed.append("PAYMENT_ORDER")
        if any(kind.startswith("LITIGATION") and at > signed_at for kind, at in stage_starts):
            followed.append("LITIGATION")
        out.append(
            {
                "agreement": a,
                "organisation": latest.get("organisation"),
                "system": latest["source"]["system"],
                "record_id": latest["source"]["record_id"],
                "event_id": latest["event_id"],
                "performance": "PERFORMED" if performed else "DEFAULTED" if defaulted else "PENDING",
                "performance_notice_at": types.get("PERFORMANCE_NOTICE_ISSUED"),
                "follow_up_at": types.get("FOLLOW_UP_VISIT"),
                "performed_at": performed,
                "defaulted_at": defaulted,
                "followed_by": followed,
            }
        )
    return sorted(out, key=lambda a: (a["agreement"].get("signed_at") or _EPOCH, a["event_id"]))


def _confirmation(records: dict, kinds: dict) -> dict | None:
    """The judicial confirmation's state as the court reports it."""
    states = {
        "CONFIRMATION_RECEIVED": "DELIVERED",
        "CONFIRMATION_ACCEPTED": "ACCEPTED",
        "CONFIRMATION_EXTENDED": "ACCEPTED",
        "CONFIRMATION_RULED_VALID": "RULED_VALID",
        "CONFIRMATION_REJECTED": "REJECTED",
        "CONFIRMATION_NOT_ACCEPTED": "REJECTED",
    }
    found = None
    for key, (agency, events) in records.items():
        if agency != "COURT" or kinds[key] != "JUDICIAL_CONFIRMATION":
            continue
        for e in events:
            if e["event_type"] in states:
                found = max(found, e, key=_order) if found else e
    if found is None:
        return None
    e = found
    return {
        "request_id": e.get("confirmation_request_id"),
        "state": states[e["event_type"]],
        "court_code": (e.get("court") or {}).get("code"),
        "deadline": None,
        "court_case_number": st.own_number(e),
        "decided_at": e.get("decided_at"),
        "reason": e.get("reason"),
    }


def mediated_before_arbitration(timeline: list[dict]) -> bool:
    """仲裁案前调解: mediation (incl. pre-arbitration mediation) happened before any arbitration acceptance."""
    accepted = [
        e["occurred_at"] for e in timeline if e["agency_kind"] == "ARBITRATION" and e["event_type"] == "ACCEPTED"
    ]
    cutoff = min(accepted) if accepted else None
    return any(
        (
            e["agency_kind"] == "MEDIATION"
            or (e["agency_kind"] == "ARBITRATION" and e["event_type"] == "REFERRED_TO_PRE_ARBITRATION_MEDIATION")
        )
        and (cutoff is None or e["occurred_at"] <= cutoff)
        for e in timeline
    ) and any(e["agency_kind"] == "ARBITRATION" for e in timeline)


def _resolved_by_agreement(latest: list[tuple[str, str, dt.datetime]]) -> bool:
    """Some record ended in a settlement or mediation agreement and no award or judgment came after it."""
    agreed = [at for agency, t, at in latest if (agency, t) in AGREEMENT_OUTCOMES]
    if not agreed:
        return False
    return not any(at > min(agreed) for agency, t, at in latest if (agency, t) in ADJUDICATIONS)


def build_case(case: CaseInput, rules: CaseRules, today: dt.date) -> dict:
    """The CaseRecord of one case. Pure: the same input gives the same record.

    Raises:
        ValueError: a case without core events.
    """
    if not case.events:
        raise ValueError(f"case {case.case_id} has no events")
    records: dict[tuple, tuple[str, list[dict]]] = {}
    attached_records: set = set()
    for group, is_attached in ((case.events, False), (case.attached, True)):
        for agency, event in group:
            agency = st.agency_of(agency, event)
            key = (event["source"]["system"], event["source"]["record_id"])
            if key not in records:
                records[key] = (agency, [])
            if all(e["event_id"] != event["event_id"] for e in records[key][1]):
                records[key][1].append(event)
            if is_attached:
                attached_records.add(key)
    for _, events in records.values():
        events.sort(key=_order)
    core = {k: v for k, v in records.items() if k not in attached_records}
    kinds = {k: st.stage_kind(agency, events) for k, (agency, events) in records.items()}
    spans = {k: st.span(agency, events, k in attached_records) for k, (agency, events) in records.items()}
    timeline = _timeline(records, attached_records, kinds)
    all_events = [e for _, events in records.values() for e in events]
    core_events = sorted((e for _, events in core.values() for e in events), key=_order)
    latest = core_events[-1]
    latest_key = (latest["source"]["system"], latest["source"]["record_id"])
    court_starts: dict[str, dt.datetime] = {}
    for k, (agency, _) in core.items():
        if agency == "COURT":
            kind = kinds[k]
            court_starts[kind] = min(court_starts.get(kind, spans[k]["started_at"]), spans[k]["started_at"])
    stage_starts = [(spans[k]["kind"], spans[k]["started_at"]) for k in core]
    agreements = _agreements(core, court_starts, stage_starts)
    chosen, provenance = _choose(_candidates(core), rules)
    stage_list = [(spans[k], agency, events) for k, (agency, events) in core.items()]
    deadline_list = dl.deadlines(
        stage_list, agreements, {k: dl.local_date(v) for k, v in court_starts.items()}, rules, today
    )
    # parties, counts and flags are the core records' (a complaint covering several cases names others too)
    parties = _union([p for e in core_events for p in e.get("parties") or []], _party_key)
    workers = {p.get("id_hash") or p.get("name") for p in parties if p.get("role") == "WORKER"}
    counts = [e.get("worker_count") for e in core_events if e.get("worker_count") is not None]
    worker_count = max([*counts, len(workers)]) if (counts or workers) else None
    outcomes = [(st.agency_of(a, e), e["event_type"], e["occurred_at"]) for a, events in core.values() for e in events]
    confirmation = _confirmation(core, kinds)
    if confirmation is not None:
        due = next((d["due"] for d in deadline_list if d["kind"] == "CONFIRMATION_30_DAYS"), None)
        confirmation["deadline"] = due
    agreement = max((a["agreement"] for a in agreements), key=_agreement_order, default=None)
    first_span = min(spans.values(), key=lambda s: (s["started_at"], s["system"], s["record_id"]))
    employer_division = next(
        (p.get("division_code") for p in parties if p.get("role") == "EMPLOYER" and p.get("division_code")), None
    )
    stage = st.current_stage(st.agency_of(core[latest_key][0], latest), latest["event_type"], spans[latest_key])
    record = {
        "case_id": case.case_id,
        "merged_into": None,
        "version": case.version,
        "created_at": core_events[0]["occurred_at"],
        "updated_at": latest["occurred_at"],
        "stage": stage,
        "status": f"{_shown_agency(core[latest_key][0])}:{latest['event_type']}",
        "refs": _union(
            [r for e in all_events for r in e.get("refs") or []], lambda r: (r["kind"], r["system"], r["number"])
        ),
        "parties": parties,
        "claims": _union([c for e in core_events for c in e.get("claims") or []], _claim_key),
        "documents": _union([d for e in core_events for d in e.get("documents") or []], lambda d: (d["sha256"],)),
        "group_dispute": any(e.get("group_dispute") for e in core_events) or (worker_count or 0) >= 10,
        "worker_count": worker_count,
        "migrant_worker": any(p.get("migrant_worker") for p in parties),
        "mediated_before_arbitration": mediated_before_arbitration(timeline),
        "dispatched_worker": any(p.get("dispatched_worker") for p in parties),
        "new_employment_form": any(p.get("new_employment_form") for p in parties),
        "timeline": timeline,
        "links": [
            case.links[e["event_id"]]
            for e in sorted(all_events, key=lambda e: e["event_id"])
            if e["event_id"] in case.links
        ],
        "agreement": agreement,
        "confirmation": confirmation,
        "deadlines": deadline_list,
        "closed_at": latest["occurred_at"] if stage == "CLOSED" else None,
        "stages": sorted(spans.values(), key=lambda s: (s["started_at"], s["system"], s["record_id"])),
        "amounts": {
            "claimed": _money(chosen.get("amounts.claimed")),
            "agreed": _money(chosen.get("amounts.agreed")),
            "awarded": _money(chosen.get("amounts.awarded")),
            "paid": _money(chosen.get("amounts.paid")),
        },
        "agreements": agreements,
        "provenance": provenance,
        "resolved_by_negotiation_or_mediation": _resolved_by_agreement(outcomes),
        "overdue": dl.overdue(deadline_list),
        "division_code": first_span.get("division_code") or employer_division,
        "anchor_event_id": case.anchor_event_id,
        "redirects": sorted(case.redirects),
    }
    return record


def _shown_agency(agency: str) -> str:
    """Settlements travel on the mediation topic: the status names the topic's agency."""
    return "MEDIATION" if agency == "NEGOTIATION" else agency


def _agreement_order(agreement: dict):
    return (
        agreement.get("signed_at") or _EPOCH,
        agreement.get("effective_date") or dt.date.min,
        agreement.get("number") or "",
    )


def redirect_record(case_id: str, target: str, version: int, now: dt.datetime) -> dict:
    """The record left under a case id that now names another case: a redirect downstream apps follow."""
    return {
        "case_id": case_id,
        "merged_into": target,
        "version": version,
        "created_at": now,
        "updated_at": now,
        "stage": "UNKNOWN",
        "status": f"MERGED_INTO:{target}",
        "refs": [],
        "parties": [],
        "claims": [],
        "documents": [],
        "group_dispute": False,
        "worker_count": None,
        "migrant_worker": False,
        "mediated_before_arbitration": False,
        "dispatched_worker": False,
        "new_employment_form": False,
        "timeline": [],
        "links": [],
        "agreement": None,
        "confirmation": None,
        "deadlines": [],
        "closed_at": None,
        "stages": [],
        "amounts": None,
        "agreements": [],
        "provenance": [],
        "resolved_by_negotiation_or_mediation": False,
        "overdue": False,
        "division_code": None,
        "anchor_event_id": None,
        "redirects": [],
    }
