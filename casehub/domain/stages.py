"""Stages of a case: which kind of stage a source record is (by agency, organisation kind and court case type),
when it started and ended, its outcome, and the case's current stage."""

from __future__ import annotations

# Organisation kind of a mediation event -> stage kind
MEDIATION_KINDS = {
    "ENTERPRISE_COMMITTEE": "MEDIATION_ENTERPRISE",
    "TOWNSHIP_STREET": "MEDIATION_TOWNSHIP_STREET",
    "INDUSTRY": "MEDIATION_INDUSTRY_REGIONAL",
    "REGIONAL": "MEDIATION_INDUSTRY_REGIONAL",
    "PEOPLES_MEDIATION": "MEDIATION_PEOPLES",
    "PRE_ARBITRATION": "MEDIATION_PRE_ARBITRATION",
    "COURT_DELEGATED": "MEDIATION_COURT_DELEGATED",
}
# Court case type code (类型代字) -> stage kind
COURT_KINDS = {
    "民初": "LITIGATION_FIRST_INSTANCE",
    "民终": "LITIGATION_APPEAL",
    "民特": "JUDICIAL_CONFIRMATION",
    "民督": "PAYMENT_ORDER",
    "执": "ENFORCEMENT",
}
COURT_EVENT_KINDS = {
    "APPEAL": "LITIGATION_APPEAL",
    "CONFIRMATION_RECEIVED": "JUDICIAL_CONFIRMATION",
    "CONFIRMATION_ACCEPTED": "JUDICIAL_CONFIRMATION",
    "CONFIRMATION_RULED_VALID": "JUDICIAL_CONFIRMATION",
    "CONFIRMATION_REJECTED": "JUDICIAL_CONFIRMATION",
    "CONFIRMATION_NOT_ACCEPTED": "JUDICIAL_CONFIRMATION",
    "PAYMENT_ORDER_APPLIED": "PAYMENT_ORDER",
    "PAYMENT_ORDER": "PAYMENT_ORDER",
    "ENFORCEMENT_APPLIED": "ENFORCEMENT",
    "ENFORCEMENT": "ENFORCEMENT",
}
# Stage kind -> the coarse CaseStage
COARSE = {
    "NEGOTIATION": "NEGOTIATION",
    "MEDIATION_PRE_ARBITRATION": "PRE_ARBITRATION_MEDIATION",
    "ARBITRATION": "ARBITRATION",
    "LITIGATION_FIRST_INSTANCE": "LITIGATION",
    "LITIGATION_APPEAL": "LITIGATION",
    "PAYMENT_ORDER": "LITIGATION",
    "ENFORCEMENT": "ENFORCEMENT",
    "INSPECTION": "INSPECTION",
    "JUDICIAL_CONFIRMATION": "JUDICIAL_CONFIRMATION",
}
# Event types that end a stage at each agency (the stage's outcome is the last of them)
ENDS = {
    "MEDIATION": {
        "REFUSED",
        "AGREEMENT_SIGNED",
        "FAILED",
        "WITHDRAWN",
        "AGREEMENT_PERFORMED",
        "AGREEMENT_DEFAULTED",
        "REFERRED_TO_ARBITRATION",
        "MEDIATION_PERIOD_EXPIRED",
        "SETTLEMENT_SIGNED",
        "SETTLEMENT_DEFAULTED",
        "ARCHIVED",
    },
    "NEGOTIATION": {"SETTLEMENT_SIGNED", "SETTLEMENT_DEFAULTED", "AGREEMENT_PERFORMED", "WITHDRAWN"},
    "ARBITRATION": {
        "REFUSED",
        "SETTLED_BY_MEDIATION",
        "AWARD_FINAL",
        "AWARD_NON_FINAL",
        "WITHDRAWN",
        "CLOSED",
        "TRANSFERRED",
        "AGREEMENT_REVIEW_CONFIRMED",
        "AGREEMENT_REVIEW_REJECTED",
    },
    "COURT": {
        "JUDGMENT",
        "CONFIRMATION_RULED_VALID",
        "CONFIRMATION_REJECTED",
        "CONFIRMATION_NOT_ACCEPTED",
        "PAYMENT_ORDER",
        "PAYMENT_ORDER_TERMINATED",
        "SETTLED_BY_COURT_MEDIATION",
        "WITHDRAWN",
        "ENFORCEMENT_CLOSED",
        "CASE_CLOSED",
        "SET_ASIDE_GRANTED",
        "SET_ASIDE_DISMISSED",
    },
    "INSPECTION": {
        "CLOSED",
        "COMPLAINT_REFUSED",
        "HANDED_OFF_TO_MEDIATION",
        "HANDED_OFF_TO_ARBITRATION",
        "HANDED_OFF_TO_COURT",
        "TRANSFERRED_TO_POLICE",
        "ORDER_OBEYED",
    },
}
# The latest event of a case that closes it (no stage remains open after it)
CLOSING = {
    ("MEDIATION", "WITHDRAWN"),
    ("MEDIATION", "AGREEMENT_PERFORMED"),
    ("MEDIATION", "REFUSED"),
    ("MEDIATION", "ARCHIVED"),
    ("NEGOTIATION", "AGREEMENT_PERFORMED"),
    ("ARBITRATION", "SETTLED_BY_MEDIATION"),
    ("ARBITRATION", "WITHDRAWN"),
    ("ARBITRATION", "CLOSED"),
    ("ARBITRATION", "REFUSED"),
    ("COURT", "WITHDRAWN"),
    ("COURT", "CASE_CLOSED"),
    ("COURT", "ENFORCEMENT_CLOSED"),
    ("COURT", "SETTLED_BY_COURT_MEDIATION"),
    ("INSPECTION", "CLOSED"),
    ("INSPECTION", "COMPLAINT_REFUSED"),
    ("INSPECTION", "ORDER_OBEYED"),
}
# The latest event of a case that moves it to another agency's stage before that agency has a record
HANDOFFS = {
    ("MEDIATION", "REFERRED_TO_ARBITRATION"): "ARBITRATION",
    ("ARBITRATION", "REFERRED_TO_PRE_ARBITRATION_MEDIATION"): "PRE_ARBITRATION_MEDIATION",
    ("INSPECTION", "HANDED_OFF_TO_MEDIATION"): "MEDIATION",
    ("INSPECTION", "HANDED_OFF_TO_ARBITRATION"): "ARBITRATION",
    ("INSPECTION", "HANDED_OFF_TO_COURT"): "LITIGATION",
}


def agency_of(agency: str, event: dict) -> str:
    """The agency kind an event speaks for (settlements on the mediation topic are NEGOTIATION)."""
    kind = (event.get("source") or {}).get("agency_kind")
    return kind if kind in ("NEGOTIATION",) else agency


def stage_kind(agency: str, events: list[dict]) -> str:
    """The kind of stage one source record is, from its events (latest information wins)."""
    if agency == "NEGOTIATION" or any(e["event_type"] in ("SETTLEMENT_SIGNED", "SETTLEMENT_DEFAULTED") for e in events):
        return "NEGOTIATION"
    if agency == "MEDIATION":
        for e in reversed(events):
            if e.get("delegated_by_court"):
                return "MEDIATION_COURT_DELEGATED"
            kind = (e.get("organisation") or {}).get("kind")
            if kind:
                return MEDIATION_KINDS.get(kind, "MEDIATION_OTHER")
        return "MEDIATION_OTHER"
    if agency == "COURT":
        for e in reversed(events):
            code = e.get("case_type_code")
            if code in COURT_KINDS:
                return COURT_KINDS[code]
        for e in reversed(events):
            if e["event_type"] in COURT_EVENT_KINDS:
                return COURT_EVENT_KINDS[e["event_type"]]
        return "LITIGATION_FIRST_INSTANCE"
    return {"ARBITRATION": "ARBITRATION", "INSPECTION": "INSPECTION"}.get(agency, "OTHER")


def coarse(kind: str) -> str:
    """The CaseStage of a stage kind (every MEDIATION_* kind but pre-arbitration is MEDIATION)."""
    if kind in COARSE:
        return COARSE[kind]
    return "MEDIATION" if kind.startswith("MEDIATION") else "UNKNOWN"


def organisation_of(agency: str, event: dict) -> tuple[str | None, str | None]:
    """(name, division code) of the organisation that handled an event."""
    for key in {
        "MEDIATION": ("organisation",),
        "NEGOTIATION": ("organisation",),
        "ARBITRATION": ("commission",),
        "COURT": ("court",),
        "INSPECTION": ("bureau",),
    }.get(agency, ()):
        org = event.get(key)
        if org:
            return org.get("name"), org.get("division_code")
    return None, None


def own_number(event: dict) -> str | None:
    """The record's own case number: a reference its own system issued, of its own agency's kind first."""
    system, agency = event["source"]["system"], event["source"].get("agency_kind")
    own = [r for r in event.get("refs") or [] if r.get("system") == system]
    for ref in own:
        if ref["kind"] == agency:
            return ref["number"]
    return own[0]["number"] if own else None


def span(agency: str, events: list[dict], attached: bool = False) -> dict:
    """The CaseStageSpan of one source record (its events sorted by time)."""
    kind = stage_kind(agency, events)
    ends = [e for e in events if e["event_type"] in ENDS.get(agency, ())]
    name = division = number = None
    for e in reversed(events):
        name, division = organisation_of(agency, e)
        if name:
            break
    for e in reversed(events):
        number = own_number(e)
        if number:
            break
    last = events[-1]
    return {
        "stage": coarse(kind),
        "kind": kind,
        "agency_kind": "MEDIATION" if agency == "NEGOTIATION" else agency,
        "system": last["source"]["system"],
        "record_id": last["source"]["record_id"],
        "case_number": number,
        "organisation": name,
        "division_code": division,
        "started_at": events[0]["occurred_at"],
        "ended_at": ends[0]["occurred_at"] if ends else None,
        "status": last["event_type"],
        "outcome": ends[-1]["event_type"] if ends else None,
        "attached": attached,
    }


def current_stage(latest_agency: str, latest_type: str, latest_span: dict) -> str:
    """The case's stage after its latest event: CLOSED after a closing event, the next agency's stage after a
    hand-off, else the stage of the record the latest event belongs to."""
    if (latest_agency, latest_type) in CLOSING:
        return "CLOSED"
    if (latest_agency, latest_type) in HANDOFFS:
        return HANDOFFS[(latest_agency, latest_type)]
    return latest_span["stage"]
