"""Seeded generator of synthetic labour-dispute cases whose journeys cross mediation, arbitration, court and
inspection."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

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


def generate(n: int, seed: int) -> list[Case]:
    """n cases, identical for identical (n, seed)."""
    rng = random.Random(seed)
    pool, numbers = IdentityPool(rng), Numbers()
    kinds, starts = _kinds(n, rng), _start_times(n, rng)
    cases = []
    for i, (kind, start) in enumerate(zip(kinds, starts)):
        category = CATEGORIES[i] if i < len(CATEGORIES) else rng.choices(CATEGORIES, weights=(4, 3, 2, 2))[0]
        if kind == "group_dispute":
            category = rng.choice(("migrant", "rider"))
        migrant = category == "migrant" or rng.random() < 0.1
        division = rng.choice(list(PLACES))
        size = rng.randrange(10, 26) if kind == "group_dispute" else 1
        workers = tuple(pool.person(division, migrant) for _ in range(size))
        employer = pool.employer(division, category)
        user = pool.employer(division, "user") if category == "dispatched" else None
        claim_type = "WAGES" if kind in ("payment_order", "group_dispute") else rng.choice(CLAIMS[category])
        if kind == "arbitration_final":
            claim_type = rng.choice(("WAGES", "OVERTIME", "SOCIAL_INSURANCE"))
            claim_fen = rng.randrange(2000, S.FINAL_AWARD_CAP_FEN // 100) * 100
        else:
            claim_fen = rng.randrange(3000, 120000) * 100
        ctx = S.Context(rng, numbers, division, employer, workers, claim_fen)
        proceedings = routes.JOURNEYS[kind](ctx, start)
        cases.append(
            Case(
                key=f"C{i + 1:05d}",
                kind=kind,
                category=category,
                migrant=migrant,
                division=division,
                claim_type=claim_type,
                claim_fen=claim_fen,
                workers=workers,
                employer=employer,
                user_employer=user,
                proceedings=tuple(sorted(proceedings, key=lambda p: p.steps[0].at)),
            )
        )
    return cases
