"""Pure rules that turn agency events into the full-chain case record (no I/O, no faust).

The merge is a fold over the set of events a case has seen: every derived field is computed from the
timeline and from set unions, so any order and any duplication of the same events gives the same record.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from casehub.domain.references import ref_key

# event_type -> stage, per agency. Types not listed keep the agency's default stage.
AGENCY_STAGE = {
    "MEDIATION": "MEDIATION",
    "ARBITRATION": "ARBITRATION",
    "COURT": "LITIGATION",
    "INSPECTION": "INSPECTION",
    "NEGOTIATION": "NEGOTIATION",
}
EVENT_STAGE = {
    ("MEDIATION", "REFERRED_TO_ARBITRATION"): "ARBITRATION",
    ("MEDIATION", "WITHDRAWN"): "CLOSED",
    ("MEDIATION", "AGREEMENT_PERFORMED"): "CLOSED",
    ("MEDIATION", "SETTLEMENT_SIGNED"): "NEGOTIATION",
    ("ARBITRATION", "REFERRED_TO_PRE_ARBITRATION_MEDIATION"): "PRE_ARBITRATION_MEDIATION",
    ("ARBITRATION", "SETTLED_BY_MEDIATION"): "CLOSED",
    ("ARBITRATION", "WITHDRAWN"): "CLOSED",
    ("COURT", "CONFIRMATION_ACCEPTED"): "JUDICIAL_CONFIRMATION",
    ("COURT", "CONFIRMATION_RULED_VALID"): "JUDICIAL_CONFIRMATION",
    ("COURT", "CONFIRMATION_REJECTED"): "JUDICIAL_CONFIRMATION",
    ("COURT", "ENFORCEMENT"): "ENFORCEMENT",
    ("INSPECTION", "HANDED_OFF_TO_MEDIATION"): "MEDIATION",
    ("INSPECTION", "HANDED_OFF_TO_ARBITRATION"): "ARBITRATION",
}
REF_PRIORITY = [
    "MEDIATION",
    "NEGOTIATION",
    "INSPECTION",
    "ARBITRATION",
    "COURT",
    "AGREEMENT",
    "CONFIRMATION",
    "PAYMENT_ORDER",
    "ENFORCEMENT",
    "OTHER",
]


def case_id_for(event: dict) -> str:
    """The case an event belongs to, from its strongest explicit reference (or its source record).

    Deterministic: the same reference always names the same case, in any process.
    """
    refs = sorted(
        event.get("refs") or [],
        key=lambda r: (REF_PRIORITY.index(r["kind"]) if r["kind"] in REF_PRIORITY else 99, ref_key(r)),
    )
    if refs:
        kind, number = ref_key(refs[0])
        basis = f"ref|{kind}|{number}"
    else:
        src = event["source"]
        basis = f"src|{src['system']}|{src['record_id']}"
    return "CH" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:16].upper()


_PLACEHOLDERS = {"NONE", "UNKNOWN", "OTHER"}


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
    return (p.get("role"), p.get("id_hash") or "", p.get("credit_code") or "", p.get("name"))


def _claim_key(c: dict):
    amount = (c.get("amount") or {}).get("amount_fen")
    return (c.get("type"), amount, c.get("description") or "")


def summary(agency: str, event: dict) -> str:
    src = event["source"]
    return f"{agency.lower()} {event['event_type'].lower().replace('_', ' ')} ({src['system']} {src['record_id']})"


def timeline_entry(agency: str, event: dict) -> dict:
    return {
        "event_id": event["event_id"],
        "agency_kind": agency,
        "event_type": event["event_type"],
        "occurred_at": event["occurred_at"],
        "source": event["source"],
        "summary": summary(agency, event),
    }


def _order(entry: dict):
    return (entry["occurred_at"], entry["event_id"])


def stage_of(entry: dict) -> str:
    return EVENT_STAGE.get(
        (entry["agency_kind"], entry["event_type"]), AGENCY_STAGE.get(entry["agency_kind"], "UNKNOWN")
    )


def merge(case: dict | None, agency: str, event: dict, case_id: str | None = None) -> dict:
    """Fold one agency event into a case record (a CaseRecord dict); returns a new dict.

    Idempotent (an event already in the timeline changes nothing) and commutative (derived fields are
    recomputed from the timeline and unions, never from arrival order).
    """
    case_id = case_id or (case or {}).get("case_id") or case_id_for(event)
    if case is not None and any(e["event_id"] == event["event_id"] for e in case["timeline"]):
        return case
    base = case or {
        "case_id": case_id,
        "merged_into": None,
        "refs": [],
        "parties": [],
        "claims": [],
        "documents": [],
        "timeline": [],
        "links": [],
        "group_dispute": False,
        "worker_count": None,
        "agreement": None,
        "confirmation": None,
        "deadlines": [],
    }
    timeline = sorted([*base["timeline"], timeline_entry(agency, event)], key=_order)
    link = {
        "event_id": event["event_id"],
        "rule": "EXPLICIT_REFERENCE" if event.get("refs") else "SAME_SOURCE_RECORD",
        "detail": ", ".join(f"{r['kind']} {r['number']}" for r in event.get("refs") or [])
        or f"{event['source']['system']} record {event['source']['record_id']}",
    }
    record = dict(base)
    record["timeline"] = timeline
    record["links"] = sorted([*base["links"], link], key=lambda entry: entry["event_id"])
    record["refs"] = _union(
        [*base["refs"], *(event.get("refs") or [])], lambda r: (r["kind"], r["system"], r["number"])
    )
    record["parties"] = _union([*base["parties"], *(event.get("parties") or [])], _party_key)
    record["claims"] = _union([*base["claims"], *(event.get("claims") or [])], _claim_key)
    record["documents"] = _union([*base["documents"], *(event.get("documents") or [])], lambda d: (d["sha256"],))
    record["group_dispute"] = bool(base["group_dispute"] or event.get("group_dispute"))
    counts = [c for c in (base["worker_count"], event.get("worker_count")) if c is not None]
    record["worker_count"] = max(counts) if counts else None
    # The agreement shown is the latest signed one, chosen by its own dates so arrival order does not matter.
    if agency == "MEDIATION" and event.get("agreement"):
        record["agreement"] = max((a for a in (base["agreement"], event["agreement"]) if a), key=_agreement_order)
    return finish(record)


def _agreement_order(agreement: dict):
    return (
        agreement.get("signed_at") or dt.datetime.min.replace(tzinfo=dt.UTC),
        agreement.get("effective_date") or dt.date.min,
        agreement.get("number") or "",
        repr(sorted(agreement.items(), key=lambda kv: kv[0])),  # a total order: equal dates never fall back to arrival
    )


def finish(record: dict) -> dict:
    """Recompute every field derived from the timeline."""
    timeline = record["timeline"]
    last = timeline[-1]
    record["stage"] = stage_of(last)
    record["status"] = f"{last['agency_kind']}:{last['event_type']}"
    record["created_at"] = timeline[0]["occurred_at"]
    record["updated_at"] = last["occurred_at"]
    record["version"] = len(timeline)
    record["migrant_worker"] = any(p.get("migrant_worker") for p in record["parties"])
    record["dispatched_worker"] = any(p.get("dispatched_worker") for p in record["parties"])
    record["new_employment_form"] = any(p.get("new_employment_form") for p in record["parties"])
    record["closed_at"] = last["occurred_at"] if record["stage"] == "CLOSED" else None
    record["mediated_before_arbitration"] = mediated_before_arbitration(timeline)
    return record


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
