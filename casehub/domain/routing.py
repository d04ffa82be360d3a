"""Which court has jurisdiction over an application for judicial confirmation (司法确认). Pure.

The law (Civil Procedure Law, special procedure; ../shared/domain/RULES.md): the court that invited (delegated)
the mediation, when there is one; otherwise a basic court of the place where a party lives, where the subject
matter is, or where the mediation organisation is. Which of those places is tried first is the directory's
configurable `order`; the first place that names a court in the directory wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from casehub.domain.directory import CourtDirectory, CourtEntry


@dataclass(frozen=True)
class Route:
    court: CourtEntry | None
    basis: str  # why this court (or why none), for the view and the request's log


def places(case: dict, agreement: dict) -> dict[str, list[str]]:
    """The division codes of the three places, from the case record and its agreement, each with the divisions to
    try in turn.

    party_domicile: the worker's division (when an agency records where the worker lives), then the employer's (its
    registered place, read from its credit code): the domicile of either party;
    subject_matter: the case's division (where the agencies handled the dispute: the place of work the dispute is
    about);
    organisation: the mediation organisation's division.
    """
    parties = case.get("parties") or []

    def divisions(role: str) -> list[str]:
        return [p["division_code"] for p in parties if p.get("role") == role and p.get("division_code")]

    domicile = list(dict.fromkeys(divisions("WORKER") + divisions("EMPLOYER")))
    subject = [case["division_code"]] if case.get("division_code") else []
    org = (agreement.get("organisation") or {}).get("division_code")
    return {"party_domicile": domicile, "subject_matter": subject, "organisation": [org] if org else []}


def route(case: dict, agreement: dict, delegated_by: str | None, directory: CourtDirectory) -> Route:
    """The court for one agreement of a case.

    Args:
        agreement: a CaseAgreement dict (agreement, organisation, ...).
        delegated_by: the court (code or name) that delegated the mediation, if any; else the agreement's
            court_invited (which the case record fills from its record's MediationEvent.delegated_by_court).
    """
    inviting = delegated_by or (agreement.get("agreement") or {}).get("court_invited")
    if inviting:
        court = directory.by_code(inviting) or directory.by_name(inviting)
        if court is None:
            return Route(None, f"the mediation was delegated by {inviting}, which is not in the court directory")
        return Route(court, f"delegating court {court.code}")
    where = places(case, agreement)
    tried = []
    for place in directory.order:
        for division in where.get(place) or []:
            court = directory.basic_court_of(division)
            if court is not None:
                return Route(court, f"basic court of the {place.replace('_', ' ')} ({division})")
        tried.append(f"{place.replace('_', ' ')} {', '.join(where.get(place) or []) or 'unknown'}")
    return Route(None, "no basic court in the directory for " + "; ".join(tried))
