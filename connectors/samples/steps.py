"""Per-agency proceedings (status steps with timestamps and case numbers) and the journeys that chain them."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace

from casehub.connectors.samples.identities import (
    PLACES,
    Employer,
    Person,
    arbitration_commission,
    basic_court,
    mediation_org,
)
from casehub.connectors.samples.numbering import Numbers, maybe_variant
from casehub.connectors.samples.numbering import workdays_later as later

# Final-award ceiling (art 47): 12 months of the local minimum wage; Shenyang tier-1 minimum 2,100 yuan (configurable).
FINAL_AWARD_CAP_FEN = 12 * 2100 * 100


@dataclass(frozen=True)
class Step:
    status: str | int  # the agency's own status code (mediation '40', arbitration 7, court 'YX', inspection 'closed')
    at: dt.datetime  # aware, Asia/Shanghai


@dataclass(frozen=True)
class Ref:
    agency: str  # whose number this is
    number: str  # as the referring agency typed it (a spelling variant in about 20% of references)
    canonical: str  # as the issuing agency wrote it


@dataclass(frozen=True)
class Proceeding:
    agency: str  # mediation | arbitration | court | inspection
    number: str | None  # case number the agency issued (None: arbitration application never accepted)
    steps: tuple[Step, ...]
    workers: tuple[Person, ...]
    org_name: str
    refs: tuple[Ref, ...] = ()
    kind: str | None = None  # mediation: organisation kind code; court: 民初 | 民特 | 民督
    receipt_no: str | None = None  # arbitration application receipt number
    applied_on: dt.date | None = None  # court: date of the application
    amount_fen: int | None = None  # agreed, settled, awarded or ordered amount (per worker)
    agreed_on: dt.date | None = None  # mediation agreement effective date
    confirm_consent: bool | None = None  # both parties want judicial confirmation
    final_award: bool | None = None
    remark: str | None = None  # free text the clerk typed (mediation bz): may hold another agency's case number
    uid: int = 0  # identity of the proceeding: one record, even when it belongs to several cases (fan-out)

    @property
    def last(self) -> Step:
        return self.steps[-1]


@dataclass
class Context:
    rng: random.Random
    numbers: Numbers
    division: str
    employer: Employer
    workers: tuple[Person, ...]
    claim_fen: int

    def ref(self, agency: str, number: str) -> Ref:
        return Ref(agency, maybe_variant(number, self.rng), number)

    def share(self, low: float, high: float) -> int:
        return int(self.claim_fen * self.rng.uniform(low, high)) // 100 * 100


def mediation(
    c: Context, at: dt.datetime, outcome: str, org_kind: str | None = None, workers=None, refs=()
) -> Proceeding:
    """Statuses (tj_ajxx.zt): 10 applied, 20 accepted, 30 session, 40 agreement, 50 failed, 60 withdrawn,
    70 performed, 80 defaulted, 90 referred to arbitration."""
    rng = c.rng
    kind = org_kind or rng.choice(("01", "02", "02", "03", "04"))
    steps = [Step("10", at), Step("20", t := later(at, rng.randrange(0, 3), rng))]
    amount = agreed = consent = None
    if outcome == "withdrawn":
        steps.append(Step("60", later(t, rng.randrange(1, 8), rng)))
    else:
        steps.append(Step("30", t := later(t, rng.randrange(1, 8), rng)))
        if outcome in ("failed", "referred"):
            steps.append(Step("50", t := later(t, rng.randrange(0, 6), rng)))
            if outcome == "referred":
                steps.append(Step("90", later(t, rng.randrange(0, 2), rng)))
        else:  # agreement, then maybe performed / defaulted
            steps.append(Step("40", t := later(t, rng.randrange(0, 5), rng)))
            amount, agreed = c.share(0.6, 0.95), t.date()
            consent = outcome == "confirm"
            if outcome == "defaulted":
                steps.append(Step("80", later(t, rng.randrange(15, 30), rng)))
            elif outcome == "agreement" and rng.random() < 0.6:
                steps.append(Step("70", later(t, rng.randrange(3, 20), rng)))
    return Proceeding(
        "mediation",
        c.numbers.mediation(c.division, at),
        tuple(steps),
        workers or c.workers[:1],
        mediation_org(rng, c.division, kind, c.employer),
        tuple(refs),
        kind,
        amount_fen=amount,
        agreed_on=agreed,
        confirm_consent=consent,
    )


def arbitration(c: Context, at: dt.datetime, outcome: str, refs=(), mediated: Proceeding | None = None) -> Proceeding:
    """Statuses: 1 applied, 2 accepted, 3 refused, 4 referred to pre-arbitration mediation, 5 settled by mediation,
    6 hearing scheduled, 7 final award, 8 non-final award, 9 withdrawn."""
    rng = c.rng
    receipt = c.numbers.arbitration_receipt(c.division, at)
    steps, number, amount, final = [Step(1, at)], None, None, None
    fast = len(c.workers) >= 10  # group and migrant-wage cases get priority filing
    if outcome == "refused":
        steps.append(Step(3, later(at, rng.randrange(1, 6), rng)))
    elif outcome == "settled":
        steps += [Step(4, mediated.steps[0].at), Step(5, later(mediated.last.at, 0, rng))]
        amount = mediated.amount_fen
    else:
        if mediated is not None:  # pre-arbitration mediation failed: accepted after it ends
            steps += [Step(4, mediated.steps[0].at)]
            at = mediated.last.at
        steps.append(Step(2, t := later(at, rng.randrange(1, 3 if fast else 6), rng)))
        number = c.numbers.arbitration(c.division, t)
        steps.append(Step(6, h := later(t, rng.randrange(5, 20), rng)))
        # award within 45 days of acceptance; about 1 in 10 uses the 15-day extension
        days = rng.randrange(20, 45) if rng.random() < 0.9 else rng.randrange(46, 60)
        award_at = max(later(h, 1, rng), later(t, 0, rng) + dt.timedelta(days=days))
        if (award_at.date() - t.date()).days > 45:  # the chair's approval extends the period by 15 days (art 43)
            steps.append(Step(10, t + dt.timedelta(days=rng.randrange(30, 44))))
            steps.sort(key=lambda s: s.at)  # a hearing put off by a long holiday comes after the extension
        final = outcome == "final"
        steps.append(Step(7 if final else 8, award_at))
        amount = c.share(0.5, 1.0)
    return Proceeding(
        "arbitration",
        number,
        tuple(steps),
        c.workers,
        arbitration_commission(c.division),
        tuple(refs),
        receipt_no=receipt,
        amount_fen=amount,
        final_award=final,
    )


def court(c: Context, at: dt.datetime, kind: str, outcome: str, refs=()) -> Proceeding:
    """Statuses (AJZT): LA filed, SL in trial, CP judgment, TJ court mediation, CS withdrawn, YX agreement ruled valid,
    BH application rejected, ZF payment order issued."""
    rng = c.rng
    filed = later(at, rng.randrange(0, 4), rng)  # acceptance within 3 days of the application
    steps, amount = [Step("LA", filed)], None
    if kind == "民初":
        steps.append(Step("SL", t := later(filed, rng.randrange(10, 40), rng)))
        steps.append(Step(outcome, later(t, rng.randrange(5, 60), rng)))
        amount = c.share(0.4, 1.0) if outcome != "CS" else None
    else:  # special procedure / payment order: ruling within 15 days of acceptance
        steps.append(Step(outcome, later(filed, rng.randrange(2, 12), rng)))
        amount = c.share(0.6, 0.95) if outcome in ("YX", "ZF") else None
    return Proceeding(
        "court",
        c.numbers.court(c.division, kind, filed),
        tuple(steps),
        c.workers[:1],
        basic_court(c.division),
        tuple(refs),
        kind,
        applied_on=at.date(),
        amount_fen=amount,
    )


def inspection(c: Context, at: dt.datetime, outcome: str) -> Proceeding:
    """Statuses: received, opened, order_issued, to_mediation, to_arbitration, to_police, closed."""
    rng = c.rng
    number = c.numbers.complaint(c.division, at)
    steps = [Step("received", at)]
    if outcome == "to_mediation":  # obvious mediation matter: redirected without opening a case
        steps.append(Step("to_mediation", later(at, rng.randrange(1, 3), rng)))
    else:
        steps.append(Step("opened", t := later(at, rng.randrange(1, 6), rng)))  # within 5 working days
        if outcome == "to_arbitration":
            steps.append(Step("to_arbitration", later(t, rng.randrange(3, 15), rng)))
        else:
            steps.append(Step("order_issued", t := later(t, rng.randrange(10, 40), rng)))
            steps.append(Step("to_police" if outcome == "police" else "closed", later(t, rng.randrange(5, 20), rng)))
    return Proceeding("inspection", number, tuple(steps), c.workers[:1], inspection_bureau(c.division))


def inspection_bureau(division: str) -> str:
    city, district, _, _ = PLACES[division]
    return f"{city}市{district}劳动保障监察大队"


def close_quietly(c: Context, complaint: Proceeding, after: dt.datetime) -> Proceeding:
    """The complaint is closed without naming the agency it went to (the clerk did not type the number)."""
    return replace(complaint, steps=complaint.steps + (Step("closed", later(max(after, complaint.last.at), 0, c.rng)),))


def close_handoff(c: Context, complaint: Proceeding, target: Proceeding) -> Proceeding:
    """The complaint is closed, naming the target's case number, once the other agency has issued it."""
    known = target.steps[1].at if target.agency == "arbitration" else target.steps[0].at
    closed = Step("closed", later(max(known, complaint.last.at), 0, c.rng))
    return replace(complaint, steps=complaint.steps + (closed,), refs=(c.ref(target.agency, target.number),))
