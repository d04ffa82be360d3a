"""Seeded generator of synthetic labour-dispute cases whose journeys cross mediation, arbitration, court and
inspection."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace

from casehub.connectors.samples import routes
from casehub.connectors.samples import steps as S
from casehub.connectors.samples.identities import PLACES, Employer, IdentityPool, Person
from casehub.connectors.samples.numbering import SHANGHAI, Numbers

# Journey kinds and their relative weights (every kind appears at least once when n >= len(KINDS)).
KINDS = {
    "mediation_agreement": 10,
    "mediation_failed": 6,
    "mediation_withdrawn": 4,
    "mediation_arbitration_court": 6,
    "negotiation_arbitration_court": 4,
    "inspection_to_arbitration": 6,
    "inspection_to_mediation": 3,
    "inspection_order": 4,
    "confirmation_valid": 5,
    "confirmation_rejected": 2,
    "payment_order": 4,
    "arbitration_final": 6,
    "arbitration_non_final": 5,
    "pre_arbitration_mediation": 6,
    "arbitration_refused": 1,
    "group_dispute": 4,
    # the hard cases of linking (casehub verify): a link by the parties alone, a number only in the remarks, a
    # number only on a later version, a complaint covering several applications, one worker in two disputes
    "parties_only": 4,
    "reference_in_remarks": 2,
    "late_reference": 3,
    "fan_out": 2,
    "same_worker_other_employer": 2,
    "same_worker_years_later": 2,
    "same_worker_unrelated_claim": 2,
    # agreements recent enough for casehub itself to apply for judicial confirmation (both parties consented, no
    # court has it yet), and ones whose 30 days ran out with no application: dated relative to `today`
    "confirmation_pending": 3,
    "confirmation_late": 1,
}
# Kinds dated relative to `today` (days before it that the journey starts) rather than in 2023-2024.
RECENT = {"confirmation_pending": (22, 32), "confirmation_late": (60, 100)}
# The other journeys run from January 2023 to mid-2025 (a reuse "years later" to 2026): a sample made earlier than
# this would hold events in its own future, and a years-later case moved before it could fall inside the
# party-match window of the case it repeats.
EARLIEST_TODAY = dt.date(2026, 1, 1)
# Kinds that reuse the worker (and maybe the employer) of an earlier single-worker case.
REUSE = {
    "same_worker_other_employer": "worker",
    "same_worker_years_later": "both",
    "same_worker_unrelated_claim": "both",
}
CATEGORIES = ("regular", "migrant", "dispatched", "rider")  # rider = new-employment-form (platform delivery)
CLAIMS = {
    "regular": ("WAGES", "OVERTIME", "ECONOMIC_COMPENSATION", "SOCIAL_INSURANCE"),
    "migrant": ("WAGES", "WAGES", "WORK_INJURY_MEDICAL"),
    "dispatched": ("ECONOMIC_COMPENSATION", "WAGES", "SOCIAL_INSURANCE"),
    "rider": ("DAMAGES", "WORK_INJURY_MEDICAL", "WAGES"),
}


@dataclass(frozen=True)
class Case:
    key: str
    kind: str
    category: str
    migrant: bool
    division: str
    claim_type: str
    claim_fen: int  # per worker
    workers: tuple[Person, ...]
    employer: Employer
    user_employer: Employer | None  # dispatched workers: the unit they actually worked for (用工单位)
    proceedings: tuple[S.Proceeding, ...]

    def of(self, agency: str) -> list[S.Proceeding]:
        return [p for p in self.proceedings if p.agency == agency]


def _kinds(n: int, rng: random.Random) -> list[str]:
    names = list(KINDS)
    chosen = names[:n] + rng.choices(names, weights=list(KINDS.values()), k=max(0, n - len(names)))
    rng.shuffle(chosen)
    return chosen


def _start_times(n: int, rng: random.Random) -> list[dt.datetime]:
    base = dt.datetime(2023, 1, 2, tzinfo=SHANGHAI)
    span = 660 * 24 * 3600  # about 22 months of intake
    return sorted(base + dt.timedelta(seconds=rng.randrange(span)) for _ in range(n))


def _unrelated_claims(earlier: str) -> list[str]:
    """Claim types the party-match rules do not relate to `earlier` (casehub.domain.rules)."""
    from casehub.domain.rules import PartyMatch

    rules = PartyMatch()
    return [
        t
        for t in ("WORK_INJURY_MEDICAL", "OVERTIME", "ECONOMIC_COMPENSATION", "SOCIAL_INSURANCE")
        if not rules.related(frozenset({earlier}), frozenset({t}))
    ]


def _before(proceedings: list[S.Proceeding], today: dt.date) -> list[S.Proceeding]:
    """The journey moved back by whole weeks (weekdays kept) until its last step lies before `today`."""
    last = max(p.last.at for p in proceedings).astimezone(SHANGHAI).date()
    weeks = max(0, (last - today).days // 7 + 1) if last >= today else 0
    if not weeks:
        return proceedings
    back = dt.timedelta(weeks=weeks)
    return [
        replace(
            p,
            steps=tuple(replace(s, at=s.at - back) for s in p.steps),
            agreed_on=p.agreed_on - back if p.agreed_on else None,
        )
        for p in proceedings
    ]


def generate(n: int, seed: int, today: dt.date) -> list[Case]:
    """n journeys (a fan-out journey gives one case per worker), identical for identical (n, seed, today).

    Most journeys start in 2023-2024; the RECENT kinds start a few weeks before `today` (the injected clock), and
    no step of any journey lies on or after it.

    Raises:
        ValueError: `today` before EARLIEST_TODAY.
    """
    if today < EARLIEST_TODAY:
        raise ValueError(f"a sample dated {today} would hold later events: the earliest day is {EARLIEST_TODAY}")
    rng = random.Random(seed)
    reused: set[str] = set()  # an earlier case repeats once: two repeats of one case would be one case (party match)
    pool, numbers = IdentityPool(rng), Numbers()
    kinds, starts = _kinds(n, rng), _start_times(n, rng)
    cases: list[Case] = []
    uids = iter(range(1, 10**9))
    for i, (kind, start) in enumerate(zip(kinds, starts)):
        category = CATEGORIES[i] if i < len(CATEGORIES) else rng.choices(CATEGORIES, weights=(4, 3, 2, 2))[0]
        if kind in ("group_dispute", "fan_out"):
            category = rng.choice(("migrant", "rider"))
        migrant = category == "migrant" or rng.random() < 0.1
        division = rng.choice(list(PLACES))
        size = rng.randrange(10, 26) if kind == "group_dispute" else rng.randrange(3, 13) if kind == "fan_out" else 1
        earlier = [
            c
            for c in cases
            if len(c.workers) == 1
            and c.kind not in REUSE
            and c.kind != "fan_out"
            and c.kind not in RECENT  # a reuse starts weeks or years after its case: it would lie in the future
            and c.key not in reused
            and (kind != "same_worker_unrelated_claim" or _unrelated_claims(c.claim_type))
        ]
        reuse = REUSE.get(kind) if earlier else None
        claim_type = "WAGES" if kind in ("payment_order", "group_dispute") else rng.choice(CLAIMS[category])
        if reuse:
            before = rng.choice(earlier)
            reused.add(before.key)
            category, migrant, division = before.category, before.migrant, before.division
            workers = before.workers
            employer = before.employer if reuse == "both" else pool.employer(division, category, reuse=0.0)
            if kind == "same_worker_years_later":  # far outside the party-match window
                start = before.proceedings[0].steps[0].at + dt.timedelta(days=rng.randrange(600, 800))
            elif kind == "same_worker_unrelated_claim":  # inside the window, but another matter
                start = before.proceedings[-1].last.at + dt.timedelta(days=rng.randrange(10, 60))
                claim_type = rng.choice(_unrelated_claims(before.claim_type))
        else:
            workers = tuple(pool.person(division, migrant) for _ in range(size))
            employer = pool.employer(division, category)
        user = pool.employer(division, "user") if category == "dispatched" else None
        if kind == "arbitration_final":
            claim_type = rng.choice(("WAGES", "OVERTIME", "SOCIAL_INSURANCE"))
            claim_fen = rng.randrange(2000, S.FINAL_AWARD_CAP_FEN // 100) * 100
        else:
            claim_fen = rng.randrange(3000, 120000) * 100
        if kind in RECENT:
            low, high = RECENT[kind]
            start = dt.datetime.combine(today - dt.timedelta(days=rng.randrange(low, high)), start.timetz())
        ctx = S.Context(rng, numbers, division, employer, workers, claim_fen)
        if kind in routes.MULTI:
            groups = routes.MULTI[kind](ctx, start)
        else:
            groups = [routes.JOURNEYS[kind](ctx, start)]
        groups = [_before(g, today) for g in groups]  # a no-op but for the recent kinds and late reuses
        shared: dict[int, S.Proceeding] = {}  # one record, even where several cases hold it
        for j, proceedings in enumerate(groups):
            numbered = []
            for p in proceedings:
                if id(p) not in shared:
                    shared[id(p)] = replace(p, uid=next(uids))
                numbered.append(shared[id(p)])
            case_workers = (
                workers
                if len(groups) == 1
                else tuple(w for p in numbered if p.agency == "arbitration" for w in p.workers)
            )
            cases.append(
                Case(
                    key=f"C{i + 1:05d}" if len(groups) == 1 else f"C{i + 1:05d}-{j + 1:02d}",
                    kind=kind,
                    category=category,
                    migrant=migrant,
                    division=division,
                    claim_type=claim_type,
                    claim_fen=claim_fen,
                    workers=case_workers,
                    employer=employer,
                    user_employer=user,
                    proceedings=tuple(sorted(numbered, key=lambda p: p.steps[0].at)),
                )
            )
    return cases
