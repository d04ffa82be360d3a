"""What casehub should say about each sample case, worked out from the journey itself (not from casehub's rules):
the stage after the last step, the flags, and the statutory deadlines with their states. `casehub verify`
compares the case view with it. Sample dates lie in the past; the one period still running is the 30 days to
apply for judicial confirmation of a recent agreement (journeys.RECENT), which casehub itself meets by applying:
`casehub_may_add` says what that application may add (a court stage, its states, the deadline met)."""

from __future__ import annotations

import datetime as dt

from casehub.connectors.samples.numbering import CALENDAR, SHANGHAI

# (agency, status) -> the stage the case is in after that step
STAGE_AFTER = {
    **{("mediation", s): "MEDIATION" for s in ("10", "20", "30", "40", "50", "80")},
    ("mediation", "60"): "CLOSED",
    ("mediation", "70"): "CLOSED",
    ("mediation", "90"): "ARBITRATION",
    **{("arbitration", s): "ARBITRATION" for s in (1, 2, 6, 7, 8, 10)},
    ("arbitration", 3): "CLOSED",
    ("arbitration", 4): "PRE_ARBITRATION_MEDIATION",
    ("arbitration", 5): "CLOSED",
    ("arbitration", 9): "CLOSED",
    ("court", "TJ"): "CLOSED",
    ("court", "CS"): "CLOSED",
    **{("inspection", s): "INSPECTION" for s in ("received", "opened", "order_issued", "to_police")},
    ("inspection", "to_mediation"): "MEDIATION",
    ("inspection", "to_arbitration"): "ARBITRATION",
    ("inspection", "closed"): "CLOSED",
}
COURT_STAGE = {"民初": "LITIGATION", "民督": "LITIGATION", "民特": "JUDICIAL_CONFIRMATION"}


def _day(ts: dt.datetime) -> dt.date:
    return ts.astimezone(SHANGHAI).date()


def _state(done: dt.date | None, due: dt.date, ended: dt.date | None) -> str:
    if done is not None:
        return "MET" if done <= due else "MISSED"
    if ended is not None and ended <= due:
        return "NOT_APPLICABLE"
    return "MISSED"


def _workdays(start: dt.date, n: int) -> dt.date:
    day = start
    while n:
        day += dt.timedelta(days=1)
        n -= CALENDAR.is_working_day(day)
    return day


def stage_of(p, status) -> str:
    if p.agency == "court":
        return STAGE_AFTER.get(("court", status), COURT_STAGE[p.kind])
    stage = STAGE_AFTER[(p.agency, status)]
    if p.agency == "mediation" and p.kind == "05" and stage == "MEDIATION":
        return "PRE_ARBITRATION_MEDIATION"
    return stage


def deadlines(core: list, today: dt.date) -> list[dict]:
    out = []
    court_filed = {p.kind: _day(p.steps[0].at) for p in core if p.agency == "court"}
    for p in core:
        at = {}
        for step in p.steps:
            at.setdefault(step.status, _day(step.at))
        if p.agency == "mediation":
            start, agreed = at["10"], at.get("40")
            ended = min((at[s] for s in ("50", "60", "90") if s in at), default=None)
            due = start + dt.timedelta(days=15)
            out.append({"kind": "MEDIATION_15_DAYS", "due": due.isoformat(), "state": _state(agreed, due, ended)})
            if p.agreed_on is not None:
                due = p.agreed_on + dt.timedelta(days=30)
                if p.confirm_consent:
                    filed = court_filed.get("民特")
                    done = filed if filed and filed >= p.agreed_on else None
                    state = "RUNNING" if done is None and due >= today else _state(done, due, None)
                else:
                    state = "NOT_APPLICABLE"
                out.append({"kind": "CONFIRMATION_30_DAYS", "due": due.isoformat(), "state": state})
        elif p.agency == "arbitration":
            start = at[1]
            due = start + dt.timedelta(days=5)
            decided = min((at[s] for s in (2, 3, 4) if s in at), default=None)
            ended = min((at[s] for s in (5, 9) if s in at), default=None)
            out.append(
                {"kind": "ARBITRATION_ACCEPT_5_DAYS", "due": due.isoformat(), "state": _state(decided, due, ended)}
            )
            if 2 in at:
                due = at[2] + dt.timedelta(days=45 + (15 if 10 in at else 0))
                awarded = min((at[s] for s in (5, 7, 8) if s in at), default=None)
                out.append(
                    {
                        "kind": "ARBITRATION_AWARD_45_DAYS",
                        "due": due.isoformat(),
                        "state": _state(awarded, due, at.get(9)),
                    }
                )
        elif p.agency == "inspection":
            due = _workdays(at["received"], 5)
            answered = min((at[s] for s in ("opened", "to_mediation", "to_arbitration") if s in at), default=None)
            out.append(
                {"kind": "INSPECTION_ACCEPT_5_WORKDAYS", "due": due.isoformat(), "state": _state(answered, due, None)}
            )
    return sorted(out, key=lambda d: (d["due"], d["kind"], d["state"]))


def expected(case, today: dt.date) -> dict:
    """What the case view should show for one sample case, on `today` (the day the sample was made)."""
    attached = {p.uid for p in case.proceedings if p.agency == "inspection" and len(p.workers) > 1}
    core = [p for p in case.proceedings if p.uid not in attached]
    last = max(core, key=lambda p: p.last.at)
    agencies = {p.agency for p in core}
    arbitration = [p for p in core if p.agency == "arbitration"]
    accepted = [s.at for p in arbitration for s in p.steps if s.status == 2]
    mediated = any(p.agency == "mediation" and (not accepted or p.steps[0].at <= min(accepted)) for p in core) or any(
        s.status == 4 for p in arbitration for s in p.steps
    )
    agreed = [
        s.at
        for p in core
        for s in p.steps
        if (p.agency, s.status)
        in {("mediation", "40"), ("mediation", "70"), ("arbitration", 5), ("court", "TJ"), ("court", "YX")}
    ]
    judged = [
        s.at
        for p in core
        for s in p.steps
        if (p.agency, s.status) in {("arbitration", 7), ("arbitration", 8), ("court", "CP"), ("court", "ZF")}
    ]
    due = deadlines(core, today)
    pending = any(d["kind"] == "CONFIRMATION_30_DAYS" and d["state"] == "RUNNING" for d in due)
    return {
        "casehub_may_add": {
            # casehub applies for confirmation and the court's answers come back as a court stage of the case
            "stages": ["JUDICIAL_CONFIRMATION", "CLOSED"],
            "agencies": ["court"],
            "deadline_states": {"CONFIRMATION_30_DAYS": ["MET"]},
        }
        if pending
        else {},
        "stage": stage_of(last, last.last.status),
        "flags": {
            "group_dispute": len(case.workers) >= 10,
            "migrant_worker": case.migrant,
            "dispatched_worker": case.category == "dispatched" and "arbitration" in agencies,
            "new_employment_form": case.category == "rider" and bool(agencies & {"arbitration", "inspection"}),
            "mediated_before_arbitration": bool(arbitration) and mediated,
            "resolved_by_negotiation_or_mediation": bool(agreed) and not any(t > min(agreed) for t in judged),
        },
        "stages": sorted({p.agency for p in case.proceedings}),
        "deadlines": due,
    }
