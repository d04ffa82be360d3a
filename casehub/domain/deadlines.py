"""Statutory time limits of a case as due dates with a state (running, met, missed, not applicable).

Periods come from casehub.domain.rules.Periods; working days from the holiday calendar. Dates are local
dates in China (Asia/Shanghai). `today` is injected: a case's deadlines are a function of its events and
the date. The periods (../shared/domain/RULES.md):

- MEDIATION_15_DAYS: 15 days from the organisation receiving the application (art 14). Met: an agreement
  by then. Missed: none, so either party may now go to arbitration (a right, not a duty of the mediator).
- ARBITRATION_ACCEPT_5_DAYS: accept or refuse within 5 days of the application (art 29); a referral to
  pre-arbitration mediation counts as the decision.
- ARBITRATION_AWARD_45_DAYS: award within 45 days of acceptance, +15 when extended (art 43).
- AWARD_APPEAL_15_DAYS: 15 days from a non-final award to sue (arts 48, 50). Missed: the award takes effect.
- CONFIRMATION_30_DAYS: joint application for judicial confirmation within 30 days of the agreement taking
  effect, when both parties consented; met when a court has the application.
- INSPECTION_ACCEPT_5_WORKDAYS: accept (or refuse, or redirect) a complaint within 5 working days.
- INSPECTION_INVESTIGATE_60_WORKDAYS: investigate within 60 working days of opening, +30 when extended.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from casehub.domain.rules import CaseRules

CHINA = ZoneInfo("Asia/Shanghai")
# Agencies' own duties: a missed one makes the case overdue (the parties' rights do not).
DUTIES = {
    "ARBITRATION_ACCEPT_5_DAYS",
    "ARBITRATION_AWARD_45_DAYS",
    "INSPECTION_ACCEPT_5_WORKDAYS",
    "INSPECTION_INVESTIGATE_60_WORKDAYS",
    "CONFIRMATION_30_DAYS",
}


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(CHINA).date()


def _first(events, types):
    return next((e for e in events if e["event_type"] in types), None)


class _Builder:
    def __init__(self, rules: CaseRules, today: dt.date):
        self.rules, self.today, self.out = rules, today, []

    def days(self, start: dt.date, n: int) -> tuple[dt.date, str | None]:
        return start + dt.timedelta(days=n), None

    def workdays(self, start: dt.date, n: int) -> tuple[dt.date, str | None]:
        due, unknown = self.rules.calendar.add_working_days(start, n)
        note = (
            f"no holiday calendar for {', '.join(map(str, unknown))}: Monday to Friday counted as working days"
            if unknown
            else None
        )
        return due, note

    def add(
        self,
        kind: str,
        start_event: dict,
        start: dt.date,
        due: dt.date,
        basis: str,
        done: dt.date | None,
        ended: dt.date | None = None,
        working: bool = False,
        extended: int | None = None,
        note: str | None = None,
        applicable: bool = True,
    ) -> None:
        """One deadline. done: when the required act happened; ended: when the stage ended without it."""
        if not applicable:
            state = "NOT_APPLICABLE"
        elif done is not None:
            state = "MET" if done <= due else "MISSED"
        elif ended is not None and ended <= due:
            state = "NOT_APPLICABLE"
        else:
            state = "MISSED" if self.today > due or ended is not None else "RUNNING"
        self.out.append(
            {
                "kind": kind,
                "due": due,
                "basis": basis,
                "met": state == "MET",
                "start_date": start,
                "event_id": start_event["event_id"],
                "state": state,
                "working_days": working,
                "extended_days": extended,
                "note": note,
            }
        )


def deadlines(
    stages: list[tuple[dict, str, list[dict]]],
    agreements: list[dict],
    court_filings: dict[str, dt.date],
    rules: CaseRules,
    today: dt.date,
) -> list[dict]:
    """Every applicable time limit of a case.

    Args:
        stages: (span, agency, events in time order) per core source record.
        agreements: the case's CaseAgreement records.
        court_filings: stage kind -> the earliest date a court stage of that kind started in this case.
        today: the local date the states are for.
    """
    p, b = rules.periods, _Builder(rules, today)
    for span, agency, events in stages:
        dates = {e["event_type"]: local_date(e["occurred_at"]) for e in reversed(events)}  # first occurrence of each
        ended = local_date(span["ended_at"]) if span.get("ended_at") else None
        if agency == "MEDIATION" and span["kind"] != "NEGOTIATION":
            start_event = events[0]
            start = local_date(start_event.get("received_at") or start_event["occurred_at"])
            due, _ = b.days(start, p.mediation_days)
            agreed = dates.get("AGREEMENT_SIGNED") or dates.get("SETTLEMENT_SIGNED")
            b.add(
                "MEDIATION_15_DAYS",
                start_event,
                start,
                due,
                f"art 14: {p.mediation_days} days from receipt {start}",
                agreed,
                ended if not agreed else None,
            )
        elif agency == "ARBITRATION":
            applied = _first(events, ("APPLIED",)) or events[0]
            start = local_date(applied.get("applied_at") or applied["occurred_at"])
            due, _ = b.days(start, p.arbitration_accept_days)
            decided = min(
                (dates[t] for t in ("ACCEPTED", "REFUSED", "REFERRED_TO_PRE_ARBITRATION_MEDIATION") if t in dates),
                default=None,
            )
            b.add(
                "ARBITRATION_ACCEPT_5_DAYS",
                applied,
                start,
                due,
                f"art 29: {p.arbitration_accept_days} days from application {start}",
                decided,
                ended if decided is None else None,
            )
            accepted = _first(events, ("ACCEPTED",))
            if accepted is not None:
                start = local_date(accepted.get("accepted_at") or accepted["occurred_at"])
                extension = max((e.get("extension_days") or 0 for e in events), default=0)
                if "TIME_LIMIT_EXTENDED" in dates and not extension:
                    extension = p.arbitration_award_extension_days
                due, _ = b.days(start, p.arbitration_award_days + extension)
                awarded = min(
                    (dates[t] for t in ("AWARD_FINAL", "AWARD_NON_FINAL", "SETTLED_BY_MEDIATION") if t in dates),
                    default=None,
                )
                b.add(
                    "ARBITRATION_AWARD_45_DAYS",
                    accepted,
                    start,
                    due,
                    f"art 43: {p.arbitration_award_days} days from acceptance {start}"
                    + (f", +{extension} extended" if extension else ""),
                    awarded,
                    ended if awarded is None else None,
                    extended=extension or None,
                )
            award = _first(events, ("AWARD_NON_FINAL",))
            if award is not None:
                received = (award.get("award") or {}).get("received_at") or award["occurred_at"]
                start = local_date(received)
                due, _ = b.days(start, p.award_appeal_days)
                sued = court_filings.get("LITIGATION_FIRST_INSTANCE")
                b.add(
                    "AWARD_APPEAL_15_DAYS",
                    award,
                    start,
                    due,
                    f"arts 48, 50: {p.award_appeal_days} days to sue after award {start}",
                    sued if sued and sued >= start else None,
                )
        elif agency == "INSPECTION":
            received = _first(events, ("COMPLAINT_RECEIVED",)) or events[0]
            start = local_date(received.get("complaint_received_at") or received["occurred_at"])
            due, note = b.workdays(start, p.inspection_accept_workdays)
            answered = min(
                (
                    dates[t]
                    for t in (
                        "CASE_OPENED",
                        "COMPLAINT_REFUSED",
                        "HANDED_OFF_TO_MEDIATION",
                        "HANDED_OFF_TO_ARBITRATION",
                        "HANDED_OFF_TO_COURT",
                    )
                    if t in dates
                ),
                default=None,
            )
            b.add(
                "INSPECTION_ACCEPT_5_WORKDAYS",
                received,
                start,
                due,
                f"{p.inspection_accept_workdays} working days from complaint {start}",
                answered,
                working=True,
                note=note,
            )
            opened = _first(events, ("CASE_OPENED",))
            if opened is not None:
                start = local_date(opened.get("opened_at") or opened["occurred_at"])
                extension = max((e.get("extension_workdays") or 0 for e in events), default=0)
                if "INVESTIGATION_EXTENDED" in dates and not extension:
                    extension = p.inspection_extension_workdays
                due, note = b.workdays(start, p.inspection_investigate_workdays + extension)
                done = min(
                    (
                        dates[t]
                        for t in (
                            "ORDER_TO_PAY_ISSUED",
                            "CLOSED",
                            "HANDED_OFF_TO_MEDIATION",
                            "HANDED_OFF_TO_ARBITRATION",
                            "HANDED_OFF_TO_COURT",
                            "TRANSFERRED_TO_POLICE",
                            "PENALTY_IMPOSED",
                        )
                        if t in dates
                    ),
                    default=None,
                )
                b.add(
                    "INSPECTION_INVESTIGATE_60_WORKDAYS",
                    opened,
                    start,
                    due,
                    f"{p.inspection_investigate_workdays} working days from opening {start}"
                    + (f", +{extension} extended" if extension else ""),
                    done,
                    working=True,
                    extended=extension or None,
                    note=note,
                )
    for agreement in agreements:
        a = agreement["agreement"]
        if a.get("effective_date") is None or a.get("agreement_kind") != "MEDIATION_AGREEMENT":
            continue
        start = a["effective_date"]
        due, _ = b.days(start, p.confirmation_days)
        consent = bool(a.get("confirmation_consent_worker") and a.get("confirmation_consent_employer"))
        filed = court_filings.get("JUDICIAL_CONFIRMATION")
        b.add(
            "CONFIRMATION_30_DAYS",
            {"event_id": agreement["event_id"]},
            start,
            due,
            f"Civil Procedure Law, special procedure: {p.confirmation_days} days from the agreement's effect {start}",
            filed if filed and filed >= start else None,
            applicable=consent,
        )
    return sorted(b.out, key=lambda d: (d["due"], d["kind"], d["event_id"]))


def overdue(deadlines_: list[dict]) -> bool:
    """An agency's duty was missed (the parties' own periods do not count)."""
    return any(d["state"] == "MISSED" and d["kind"] in DUTIES for d in deadlines_)
