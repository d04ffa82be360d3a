"""The journey kinds: how each kind of case moves between mediation, arbitration, court and inspection."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from casehub.connectors.samples.numbering import maybe_variant, workdays_later
from casehub.connectors.samples.steps import (
    FINAL_AWARD_CAP_FEN,
    Context,
    Proceeding,
    arbitration,
    close_handoff,
    close_quietly,
    court,
    inspection,
    mediation,
)


def _after(c: Context, at: dt.datetime, low: int, high: int) -> dt.datetime:
    return workdays_later(at, c.rng.randrange(low, high), c.rng)


def _award(c: Context) -> str:
    """Final only where the law allows it (each claim within 12 months' minimum wage)."""
    return "final" if c.claim_fen <= FINAL_AWARD_CAP_FEN and c.rng.random() < 0.6 else "non_final"


def _lawsuit(c: Context, award: Proceeding) -> Proceeding:
    """Worker sues within 15 days of a non-final award (court first instance, 民初)."""
    outcome = c.rng.choice(("CP", "CP", "CP", "TJ", "CS"))
    return court(c, _after(c, award.last.at, 2, 11), "民初", outcome, refs=[c.ref("arbitration", award.number)])


def mediation_arbitration_court(c: Context, at: dt.datetime) -> list[Proceeding]:
    m = mediation(c, at, "referred")
    a = arbitration(c, _after(c, m.last.at, 1, 10), "non_final", refs=[c.ref("mediation", m.number)])
    return [m, a, _lawsuit(c, a)]


def negotiation_arbitration_court(c: Context, at: dt.datetime) -> list[Proceeding]:
    """Negotiation leaves no record: the first agency to see the case is arbitration."""
    a = arbitration(c, at, "non_final")
    return [a, _lawsuit(c, a)]


def inspection_to_arbitration(c: Context, at: dt.datetime) -> list[Proceeding]:
    i = inspection(c, at, "to_arbitration")
    a = arbitration(c, _after(c, i.last.at, 0, 3), _award(c), refs=[c.ref("inspection", i.number)])
    return [close_handoff(c, i, a), a]


def inspection_to_mediation(c: Context, at: dt.datetime) -> list[Proceeding]:
    i = inspection(c, at, "to_mediation")
    m = mediation(c, _after(c, i.last.at, 0, 2), c.rng.choice(("agreement", "failed")), org_kind="02")
    return [close_handoff(c, i, m), m]


def inspection_order(c: Context, at: dt.datetime) -> list[Proceeding]:
    """Wage order issued; obeyed (closed) or, for suspected refusal to pay, sent to the police."""
    return [inspection(c, at, "police" if c.rng.random() < 0.25 else "order")]


def confirmation(outcome: str):
    def journey(c: Context, at: dt.datetime) -> list[Proceeding]:
        m = mediation(c, at, "confirm")
        # joint application within 30 days of the agreement taking effect
        k = court(c, _after(c, m.last.at, 1, 18), "民特", outcome, refs=[c.ref("mediation", m.number)])
        return [m, k]

    return journey


def payment_order(c: Context, at: dt.datetime) -> list[Proceeding]:
    m = mediation(c, at, "defaulted")
    return [m, court(c, _after(c, m.last.at, 1, 10), "民督", "ZF", refs=[c.ref("mediation", m.number)])]


def pre_arbitration_mediation(c: Context, at: dt.datetime) -> list[Proceeding]:
    """Commission refers the application to its pre-arbitration mediation room (org kind 05) before accepting it."""
    settle = c.rng.random() < 0.7
    m = mediation(c, _after(c, at, 1, 3), "settle" if settle else "failed", org_kind="05")
    a = arbitration(c, at, "settled" if settle else _award(c), refs=[c.ref("mediation", m.number)], mediated=m)
    return [a, m]


def group_dispute(c: Context, at: dt.datetime) -> list[Proceeding]:
    """10+ workers against one employer: one mediation record per worker, or one complaint; then one group
    arbitration."""
    if c.rng.random() < 0.5:
        ms = [mediation(c, _after(c, at, 0, 2), "referred", org_kind="04", workers=(w,)) for w in c.workers]
        start = _after(c, max(m.last.at for m in ms), 1, 5)
        return ms + [arbitration(c, start, _award(c), refs=[c.ref("mediation", ms[0].number)])]
    return inspection_to_arbitration(c, at)


def arbitration_after_mediation_by_parties(c: Context, at: dt.datetime) -> list[Proceeding]:
    """Mediation fails; the worker applies to arbitration on his own, naming no earlier case: only the parties
    (same worker, same employer, a related claim, weeks later) link the two."""
    m = mediation(c, at, "failed")
    return [m, arbitration(c, _after(c, m.last.at, 3, 25), _award(c))]


def reference_in_remarks(c: Context, at: dt.datetime) -> list[Proceeding]:
    """Inspection hands a complaint to mediation without recording the organisation's number; the mediation clerk
    types the complaint number into the remarks (备注), the only place the two records meet."""
    i = inspection(c, at, "to_mediation")
    m = mediation(c, _after(c, i.last.at, 0, 2), c.rng.choice(("agreement", "failed")), org_kind="02")
    m = replace(m, remark=f"劳动保障监察转办，投诉编号{maybe_variant(i.number, c.rng, 0.5)}，请及时调解。")
    return [close_quietly(c, i, m.steps[0].at), m]


def late_reference(c: Context, at: dt.datetime) -> list[Proceeding]:
    """The application names no complaint; the complaint, closed once the commission accepted the case, names
    the arbitration number, which exists only on that later version of it."""
    i = inspection(c, at, "to_arbitration")
    a = arbitration(c, _after(c, i.last.at, 0, 3), _award(c))
    return [close_handoff(c, i, a), a]


def fan_out(c: Context, at: dt.datetime) -> list[list[Proceeding]]:
    """One complaint for several workers; the commission files one application per worker (some naming the
    complaint, some not): as many cases as workers, the complaint in each of them."""
    i = inspection(c, at, "to_arbitration")
    cases, last = [], i.last.at
    for w in c.workers:
        one = replace(c, workers=(w,))
        refs = [c.ref("inspection", i.number)] if c.rng.random() < 0.5 else []
        a = arbitration(one, _after(c, i.last.at, 0, 4), _award(one), refs=refs)
        last = max(last, a.steps[1].at if len(a.steps) > 1 else a.last.at)
        cases.append(a)
    complaint = close_quietly(c, replace(i, workers=c.workers), last)
    return [[complaint, a] for a in cases]


JOURNEYS = {
    "mediation_agreement": lambda c, at: [mediation(c, at, "agreement")],
    "mediation_failed": lambda c, at: [mediation(c, at, "failed")],
    "mediation_withdrawn": lambda c, at: [mediation(c, at, "withdrawn")],
    "mediation_arbitration_court": mediation_arbitration_court,
    "negotiation_arbitration_court": negotiation_arbitration_court,
    "inspection_to_arbitration": inspection_to_arbitration,
    "inspection_to_mediation": inspection_to_mediation,
    "inspection_order": inspection_order,
    "confirmation_valid": confirmation("YX"),
    "confirmation_rejected": confirmation("BH"),
    "payment_order": payment_order,
    "arbitration_final": lambda c, at: [arbitration(c, at, "final")],
    "arbitration_non_final": lambda c, at: [arbitration(c, at, "non_final")],
    "pre_arbitration_mediation": pre_arbitration_mediation,
    "arbitration_refused": lambda c, at: [arbitration(c, at, "refused")],
    "group_dispute": group_dispute,
    "parties_only": arbitration_after_mediation_by_parties,
    "reference_in_remarks": reference_in_remarks,
    "late_reference": late_reference,
    # the cases below reuse an earlier case's worker (and employer): see journeys.generate
    "same_worker_other_employer": lambda c, at: [mediation(c, at, "agreement")],
    "same_worker_years_later": lambda c, at: [arbitration(c, at, "non_final")],
    "same_worker_unrelated_claim": lambda c, at: [mediation(c, at, "failed")],
    # agreements with both consents that no court has yet: casehub applies for the pending ones; the late ones
    # are past their 30 days (journeys.RECENT dates them)
    "confirmation_pending": lambda c, at: [mediation(c, at, "confirm")],
    "confirmation_late": lambda c, at: [mediation(c, at, "confirm")],
}
# journeys that give several cases: the proceedings of each
MULTI = {"fan_out": fan_out}
