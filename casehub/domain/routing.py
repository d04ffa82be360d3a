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


def places(case: dict, agreement: dict) -> dict[str, str | None]:
    """The division codes of the three places, from the case record and its agreement.

    party_domicile: a worker's division code (known when an agency records the worker's address county);
    subject_matter: the employer's division (from its credit code), else the case's division;
    organisation: the mediation organisation's division.
    """
    parties = case.get("parties") or []

    def division(role: str) -> str | None:
        return next((p["division_code"] for p in parties if p.get("role") == role and p.get("division_code")), None)

    worker, employer = division("WORKER"), division("EMPLOYER")
    org = (agreement.get("organisation") or {}).get("division_code")
    return {"party_domicile": worker, "subject_matter": employer or case.get("division_code"), "organisation": org}


def route(case: dict, agreement: dict, delegated_by: str | None, directory: CourtDirectory) -> Route:
    """The court for one agreement of a case.

    Args:
        agreement: a CaseAgreement dict (agreement, organisation, ...).
        delegated_by: the court (code or name) that delegated the mediation, if any (MediationEvent.delegated_by_court,
            or the agreement's court_invited).
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
        division = where.get(place)
        court = directory.basic_court_of(division)
        if court is not None:
            return Route(court, f"basic court of the {place.replace('_', ' ')} ({division})")
        tried.append(f"{place.replace('_', ' ')} {division or 'unknown'}")
    return Route(None, "no basic court in the directory for " + ", ".join(tried))
