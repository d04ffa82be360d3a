"""The configurable values of the case rules: party-match window and related claims, statutory periods, and
which agency's value wins when agencies disagree. Defaults follow the law (../shared/domain/RULES.md);
a TOML file (CASEHUB_RULES_FILE) overrides any of them, and an unknown key is an error naming it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from casehub.domain.calendar import WorkCalendar, default_calendar


class RulesError(ValueError):
    """A rules file names a key that does not exist or gives a value of the wrong kind."""


# Claim types that belong to one dispute when the same worker raises them against the same employer: a
# termination brings pay, compensation and damages together; an injury brings medical costs and damages.
DEFAULT_RELATED_CLAIMS = (
    ("WAGES", "OVERTIME", "ECONOMIC_COMPENSATION", "WORKING_TIME_LEAVE", "DAMAGES", "CONTRACT", "REINSTATEMENT"),
    ("WORK_INJURY_MEDICAL", "DAMAGES", "SOCIAL_INSURANCE"),
    ("SOCIAL_INSURANCE", "WAGES"),
)


@dataclass(frozen=True)
class PartyMatch:
    """When two records of one worker and one employer are one dispute (art 21 ff.; see docs/LINKING.md).

    window_days: the two events happened at most this many days apart.
    related_claims: groups of claim types that belong together; two claims are related if they are of one
        type or share a group.
    unknown_claims_match: a record with no typed claim (type OTHER, or none) is related to any claim (off: such
        a record links by reference only).
    """

    window_days: int = 180
    related_claims: tuple[tuple[str, ...], ...] = DEFAULT_RELATED_CLAIMS
    unknown_claims_match: bool = False

    def related(self, a: frozenset[str], b: frozenset[str]) -> bool:
        """Claim types of two records are related."""
        if self.unknown_claims_match and (not a or not b):
            return True
        if a & b:
            return True
        return any(a & set(group) and b & set(group) for group in self.related_claims)


@dataclass(frozen=True)
class Periods:
    """Statutory periods, in days (calendar days unless the name says workdays)."""

    mediation_days: int = 15  # art 14: no agreement within 15 days of receipt: either party may arbitrate
    arbitration_accept_days: int = 5  # art 29
    arbitration_award_days: int = 45  # art 43, from acceptance
    arbitration_award_extension_days: int = 15  # art 43, with the chair's approval
    award_appeal_days: int = 15  # arts 48, 50: to sue after receiving a non-final award
    confirmation_days: int = 30  # Civil Procedure Law special procedure: from the agreement taking effect
    inspection_accept_workdays: int = 5
    inspection_investigate_workdays: int = 60
    inspection_extension_workdays: int = 30


# Field -> agencies in order of authority. Of the values a case's events assert for a field, those from the
# first agency present win, and among them the latest. E.g. a court's judgment supersedes an award.
DEFAULT_AUTHORITY = {
    "amounts.claimed": ("COURT", "ARBITRATION", "MEDIATION", "NEGOTIATION", "INSPECTION"),
    "amounts.agreed": ("COURT", "MEDIATION", "ARBITRATION", "NEGOTIATION"),
    "amounts.awarded": ("COURT", "ARBITRATION"),
    "amounts.paid": ("COURT", "MEDIATION", "ARBITRATION", "INSPECTION"),
    "agreement.effective_date": ("MEDIATION", "NEGOTIATION", "COURT"),
}


@dataclass(frozen=True)
class CaseRules:
    """All configurable values of the case rules."""

    party_match: PartyMatch = field(default_factory=PartyMatch)
    periods: Periods = field(default_factory=Periods)
    authority: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_AUTHORITY))
    calendar: WorkCalendar = field(default_factory=default_calendar)


def rules_from(doc: dict, calendar: WorkCalendar | None = None) -> CaseRules:
    """CaseRules from a parsed rules file: tables [party_match], [periods], [authority]; missing keys keep
    their defaults.

    Raises:
        RulesError: an unknown table or key, or a value of the wrong type.
    """
    known = {"party_match": PartyMatch, "periods": Periods, "authority": None}
    for table in doc:
        if table not in known:
            raise RulesError(f"unknown table [{table}] in the rules file; known: {', '.join(known)}")
    parts = {}
    for table, cls in (("party_match", PartyMatch), ("periods", Periods)):
        given = dict(doc.get(table, {}))
        names = {f.name: f for f in dataclasses.fields(cls)}
        for key, value in given.items():
            if key not in names:
                raise RulesError(f"unknown key {key!r} in [{table}]; known: {', '.join(names)}")
            if key == "related_claims":
                if not all(isinstance(g, list) and all(isinstance(c, str) for c in g) for g in value):
                    raise RulesError("[party_match] related_claims must be a list of lists of claim types")
                given[key] = tuple(tuple(g) for g in value)
            elif not isinstance(value, type(names[key].default)) or isinstance(value, bool) != isinstance(
                names[key].default, bool
            ):
                raise RulesError(f"[{table}] {key} must be a {type(names[key].default).__name__}, not {value!r}")
        parts[table] = cls(**given)
    authority = dict(DEFAULT_AUTHORITY)
    for key, value in doc.get("authority", {}).items():
        if key not in DEFAULT_AUTHORITY:
            raise RulesError(f"unknown field {key!r} in [authority]; known: {', '.join(DEFAULT_AUTHORITY)}")
        if not (isinstance(value, list) and all(isinstance(a, str) for a in value)):
            raise RulesError(f"[authority] {key} must be a list of agency kinds")
        authority[key] = tuple(value)
    return CaseRules(parts["party_match"], parts["periods"], authority, calendar or default_calendar())
