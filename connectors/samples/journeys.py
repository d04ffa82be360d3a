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
}
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


def generate(n: int, seed: int) -> list[Case]:
    """n journeys (a fan-out journey gives one case per worker), identical for identical (n, seed)."""
    rng = random.Random(seed)
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
            and (kind != "same_worker_unrelated_claim" or _unrelated_claims(c.claim_type))
        ]
        reuse = REUSE.get(kind) if earlier else None
        claim_type = "WAGES" if kind in ("payment_order", "group_dispute") else rng.choice(CLAIMS[category])
        if reuse:
            before = rng.choice(earlier)
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
        ctx = S.Context(rng, numbers, division, employer, workers, claim_fen)
        if kind in routes.MULTI:
            groups = routes.MULTI[kind](ctx, start)
        else:
            groups = [routes.JOURNEYS[kind](ctx, start)]
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
