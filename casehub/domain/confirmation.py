"""Applications for judicial confirmation (司法确认申请): which agreements qualify, the request built from the case
record, its deadline, when a pending request needs an alert or may no longer be sent, when a never-sent request is
withdrawn (or reinstated) as its agreement's decision changes, and what a court's answer becomes on the court topic.
Pure: plain dicts in, plain dicts out; the date is passed in.

A request is built without identities (the case record carries only hashes and masks); the relay, the one reader
of the restricted identity topic, fills them in just before delivery (`with_identities`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from casehub.domain.directory import CourtEntry, ReferenceData
from casehub.domain.routing import route

# The source system of the court answers casehub receives on its callback endpoint (a court event's own system).
GATEWAY_SYSTEM = "casehub-court-gateway"
# The court's answer (callback `outcome`) -> (CourtEventType, ConfirmationOutcome)
ANSWERS = {
    "RECEIVED": "CONFIRMATION_RECEIVED",
    "ACCEPTED": "CONFIRMATION_ACCEPTED",
    "RULED_VALID": "CONFIRMATION_RULED_VALID",
    "REJECTED": "CONFIRMATION_REJECTED",
    "NOT_ACCEPTED": "CONFIRMATION_NOT_ACCEPTED",
}
# Decisions on an agreement
REQUEST = "REQUEST"  # build and deliver a request
NOT_ELIGIBLE = {
    "SETTLEMENT": "a settlement agreement (和解协议) cannot be judicially confirmed",
    "NOT_EFFECTIVE": "the agreement has not taken effect (no effective date)",
    "NO_CONSENT": "not both parties consented to judicial confirmation",
    "PARTY_MISSING": "the case names no worker or no employer: a joint application needs both parties",
    "NOT_IN_ROSTER": "the mediation organisation is not in the roster",
    "NOT_LAWFUL": "the mediation organisation is not lawfully established (roster)",
    "AT_COURT": "a court already has an application for this agreement",
    "NO_COURT": "no court with jurisdiction in the court directory",
}


@dataclass(frozen=True)
class Decision:
    state: str  # REQUEST or a key of NOT_ELIGIBLE
    reason: str
    court: CourtEntry | None = None
    organisation: dict | None = None  # the MediationOrganisation of the request (roster values)
    deadline: dt.date | None = None


def agreement_key(agreement: dict) -> str:
    """What identifies one agreement across versions, merges and rebuilds: its source record. A case record holds
    one agreement per source record (the latest signed version of it), so a later version that corrects the
    agreement's number, or writes it with other brackets or widths, is still the same agreement and gets no second
    request (a court never receives two applications for one agreement)."""
    return f"{agreement['system']}|{agreement['record_id']}"


def current_agreement_key(key: str, number: str | None) -> str:
    """The agreement key of today from one stored before it left out the number (`system|record|number`): how a
    view migrated from then, and a rebuild from an older confirmation log, find the agreement's one request."""
    old_tail = "|" + (number or "")
    return key[: -len(old_tail)] if key.count("|") >= 2 and key.endswith(old_tail) else key


def request_id_for(agreement: dict) -> str:
    """The request id: a function of the agreement alone, so one agreement never gets two requests (it is also the
    idempotency key the court sees)."""
    return "CR-" + hashlib.sha256(agreement_key(agreement).encode()).hexdigest()[:24]


def deadline_of(agreement: dict, days: int) -> dt.date | None:
    effective = (agreement.get("agreement") or {}).get("effective_date")
    return None if effective is None else effective + dt.timedelta(days=days)


def _court_has_it(case: dict) -> bool:
    """A court's own system shows a confirmation application (民特) for this case that did not come from casehub."""
    return any(
        s.get("kind") == "JUDICIAL_CONFIRMATION" and s.get("system") != GATEWAY_SYSTEM for s in case.get("stages") or []
    )


def decide(case: dict, agreement: dict, ref: ReferenceData, days: int = 30) -> Decision:
    """Whether one agreement (a CaseAgreement of the case record) gets a request, and to which court.

    Lateness is not judged here (it depends on the day of delivery: see `timing`).
    """
    a = agreement.get("agreement") or {}
    deadline = deadline_of(agreement, days)

    def no(state: str, court=None, org=None) -> Decision:
        return Decision(state, NOT_ELIGIBLE[state], court, org, deadline)

    if a.get("agreement_kind", "MEDIATION_AGREEMENT") != "MEDIATION_AGREEMENT":
        return no("SETTLEMENT")
    if a.get("effective_date") is None:
        return no("NOT_EFFECTIVE")
    if not (a.get("confirmation_consent_worker") and a.get("confirmation_consent_employer")):
        return no("NO_CONSENT")
    roles = {p.get("role") for p in case.get("parties") or []}
    if not {"WORKER", "EMPLOYER"} <= roles:
        return no("PARTY_MISSING")
    listed = ref.roster.find(agreement.get("organisation"))
    if listed is None:
        return no("NOT_IN_ROSTER")
    org = {
        "name": listed.name,
        "kind": listed.kind,
        "division_code": listed.division_code,
        "lawfully_established": listed.lawfully_established,
        "roster_id": listed.code,
        "credit_code": listed.credit_code,
    }
    if not listed.lawfully_established:
        return no("NOT_LAWFUL", org=org)
    if _court_has_it(case):
        return no("AT_COURT", org=org)
    found = route(case, {**agreement, "organisation": org}, None, ref.directory)
    if found.court is None:
        return Decision("NO_COURT", found.basis, None, org, deadline)
    return Decision(REQUEST, found.basis, found.court, org, deadline)


def build_request(case: dict, agreement: dict, decision: Decision, created_at: dt.datetime) -> dict:
    """The cn.casehub.ConfirmationRequest of an agreement, with applicants named by hash only (no identities).

    Applicants: the case's workers (id_hash, to be filled from the identity topic) and employers (name and
    credit code, which are not personal data).
    """
    applicants = []
    for p in case.get("parties") or []:
        if p.get("role") == "WORKER":
            applicants.append(
                {
                    "role": "WORKER",
                    "party_type": p.get("party_type", "PERSON"),
                    "name": p["name"],
                    "id_hash": p.get("id_hash"),
                }
            )
        elif p.get("role") == "EMPLOYER":
            applicants.append(
                {
                    "role": "EMPLOYER",
                    "party_type": p.get("party_type", "ORGANISATION"),
                    "name": p["name"],
                    "credit_code": p.get("credit_code"),
                }
            )
    a = dict(agreement["agreement"])
    return {
        "request_id": request_id_for(agreement),
        "case_id": case["case_id"],
        "created_at": created_at,
        "deadline": decision.deadline,
        "court": decision.court.as_court(),
        "organisation": decision.organisation,
        "agreement": a,
        "applicants": applicants,
        "documents": list(case.get("documents") or []),
        "refs": [
            r
            for r in case.get("refs") or []
            if r.get("system") == agreement["system"] or r.get("kind") in ("MEDIATION", "AGREEMENT")
        ],
        "agreement_record": {"system": agreement["system"], "record_id": agreement["record_id"]},
        "agreement_key": agreement_key(agreement),
        "route": decision.reason,
    }


def with_identities(
    request: dict, identities: dict[str, dict], organisations: dict[str, dict] | None = None
) -> tuple[dict | None, list[str]]:
    """The request as delivered: applicants with full identities (PartyIdentity) from IdentityRecords.

    identities: a worker's IdentityRecord by id_hash (name, resident ID, phone, address); organisations: an
    employer's IdentityRecord by credit code (address, legal representative), where an agency recorded one.
    Returns (request, missing): missing names the workers whose identity is not known (then request is None). An
    employer is named by its credit code, which the request holds: without a record its address and legal
    representative go as null, as nothing is known of them.
    """
    out, missing = [], []
    for p in request["applicants"]:
        if p["role"] == "WORKER":
            found = identities.get(p.get("id_hash") or "")
            if found is None or not found.get("id_number"):
                missing.append(f"{p['role'].lower()} {p['name']}")
                continue
            out.append(
                {
                    "role": "WORKER",
                    "party_type": found.get("party_type", "PERSON"),
                    "name": found["name"],
                    "id_number": found["id_number"],
                    "phone": found.get("phone"),
                    "address": found.get("address"),
                    "credit_code": None,
                    "legal_representative": None,
                    "agent_name": None,
                    "power_of_attorney": None,
                }
            )
        else:
            org = (organisations or {}).get(p.get("credit_code") or "") or {}
            out.append(
                {
                    "role": p["role"],
                    "party_type": p.get("party_type", "ORGANISATION"),
                    "name": p["name"],
                    "id_number": None,
                    "phone": None,
                    "address": org.get("address"),
                    "credit_code": p.get("credit_code"),
                    "legal_representative": org.get("legal_representative"),
                    "agent_name": None,
                    "power_of_attorney": None,
                }
            )
    if missing:
        return None, missing
    delivered = {k: v for k, v in request.items() if k not in ("agreement_key", "route")}
    delivered["applicants"] = out
    return delivered, []


# States of a request in the outbox (casehub.sinks.view_tables.confirmation_requests.state)
PENDING, WAITING_IDENTITY, EXPIRED = "PENDING", "WAITING_IDENTITY", "EXPIRED"  # the relay's: not sent (yet)
DELIVERED, REFUSED = "DELIVERED", "REFUSED"  # the relay's: the court has it, or refused it
WITHDRAWING = "WITHDRAWING"  # the sink's: the agreement is no longer eligible; the relay logs the withdrawal
WITHDRAWN = "WITHDRAWN"  # the relay's, logged: never sent, and it will not be while the agreement stays ineligible
REINSTATED = "REINSTATED"  # the sink's: a withdrawn request whose agreement is eligible again; the relay sends it
NEVER_SENT = frozenset({PENDING, WAITING_IDENTITY, EXPIRED, REINSTATED})
OPEN = (PENDING, WAITING_IDENTITY, REINSTATED)  # what the relay tries to deliver


def outbox_moves(decisions: dict[str, tuple[str, str]], held: dict[str, str]) -> dict[str, tuple[str, str | None]]:
    """Pure: how the outbox follows its agreements' current decisions.

    decisions: agreement key -> (decision state, reason) from `decide` (UNDECIDED: nothing is judged);
    held: agreement key -> the state of its request in the outbox.
    Returns agreement key -> (new state, last_error) for the requests to change.

    A request is built once per agreement, when the agreement is first eligible; the agreement can stop being
    eligible before the request is sent (most often: the court's own 民特 record arrives after the agreement, so a
    court already has an application). A court must never receive a second application for one agreement, so a
    request not sent yet is withdrawn; one the court has (DELIVERED) or refused stays as it is. A withdrawn request
    whose agreement is eligible again (an operator split a wrongly linked court record out) is reinstated: it was
    never sent, so sending it now is still the only application.
    """
    moves: dict[str, tuple[str, str | None]] = {}
    for key, (decision, reason) in decisions.items():
        state = held.get(key)
        if state in NEVER_SENT and decision not in (REQUEST, "UNDECIDED"):
            moves[key] = (WITHDRAWING, f"withdrawn, not sent: {reason}")
        elif state in (WITHDRAWING, WITHDRAWN) and decision == REQUEST:
            moves[key] = (REINSTATED, None)
    return moves


FINAL_ANSWERS = ("RULED_VALID", "REJECTED", "NOT_ACCEPTED")  # a court answers one of these once
REQUEST_ID = re.compile(r"CR-[0-9a-f]{24}")
CONFIRMATION_NUMBER = re.compile(r"[（(〔\[]\d{4}[）)〕\]]\S*?民特\S*?\d+号")  # （2026）辽0102民特8号


def answer_conflict(earlier: list[str], outcome: str) -> str | None:
    """Pure: why a court's answer cannot follow the answers it gave before (None: it can).

    RECEIVED, then ACCEPTED (or NOT_ACCEPTED), then one ruling: an answer may come late (a RECEIVED after the
    ACCEPTED its court sent first is history, and kept), but never contradict: a second, different final answer, or
    NOT_ACCEPTED beside ACCEPTED. The same answer twice is a replay.
    """
    if outcome in earlier:
        return f"answer {outcome} was received before"
    final = [a for a in earlier if a in FINAL_ANSWERS]
    if outcome in FINAL_ANSWERS and final:
        return f"the court already answered {final[0]}: a request gets one final answer"
    if {outcome, *earlier} >= {"ACCEPTED", "NOT_ACCEPTED"}:
        return "a request the court accepted cannot also be not accepted (or the other way round)"
    return None


def timing(deadline: dt.date, today: dt.date, alert_days: int) -> str:
    """SEND (in time), NEAR (in time, but the deadline is at most alert_days away: alert), EXPIRED (not sent)."""
    if today > deadline:
        return "EXPIRED"
    if (deadline - today).days <= alert_days:
        return "NEAR"
    return "SEND"


def court_event(request: dict, answer: dict, received_at: dt.datetime) -> dict:
    """The cn.casehub.CourtEvent a court's answer becomes: case type 民特, the agreement's references (so the
    linker joins it to the case), the request id, and the court's own 民特 case number once it has one.

    answer: outcome (a key of ANSWERS), court_case_number, decided_at, reason, callback_id.
    """
    court = request["court"]
    refs = [
        {"kind": r["kind"], "system": r["system"], "number": r["number"], "normalised": r.get("normalised")}
        for r in request.get("refs") or []
    ]
    if answer.get("court_case_number"):
        refs.insert(
            0, {"kind": "COURT", "system": GATEWAY_SYSTEM, "number": answer["court_case_number"], "normalised": None}
        )
    decided = answer.get("decided_at") or received_at
    return {
        "event_id": f"{GATEWAY_SYSTEM}:{request['request_id']}:{answer['outcome']}",
        "event_type": ANSWERS[answer["outcome"]],
        "source": {
            "system": GATEWAY_SYSTEM,
            "agency_kind": "COURT",
            "record_id": request["request_id"],
            "record_version": answer["outcome"],
        },
        "occurred_at": decided,
        "ingested_at": received_at,
        "refs": refs,
        "parties": [],
        "claims": [],
        "documents": [],
        "group_dispute": False,
        "worker_count": None,
        "court": court,
        "case_type_code": "民特",
        "decided_at": decided if answer["outcome"] in ("RULED_VALID", "REJECTED", "NOT_ACCEPTED") else None,
        "outcome": answer["outcome"].lower().replace("_", " "),
        "confirmation_request_id": request["request_id"],
        "reason": answer.get("reason"),
    }


def confirmation_response(request: dict, answer: dict, received_at: dt.datetime) -> dict:
    """The cn.casehub.ConfirmationResponse (keyed by request id) of a court's answer."""
    return {
        "request_id": request["request_id"],
        "case_id": request.get("case_id"),
        "court": request["court"],
        "court_case_number": answer.get("court_case_number"),
        "outcome": answer["outcome"],
        "decided_at": answer.get("decided_at") or received_at,
        "reason": answer.get("reason"),
        "documents": [],
    }
