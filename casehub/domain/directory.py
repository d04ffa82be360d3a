"""Reference data the confirmation path needs: the roster of mediation organisations and mediators, and the
court directory. Plain frozen dataclasses parsed from plain dicts (a TOML or CSV file read by a shell). Pure.

Roster file (docs/CONFIRMATION.md), TOML:

    [[organisation]]
    code = "MO-210102-0001"          # the roster's own id
    name = "和平区南市场街道劳动争议调解委员会"
    kind = "TOWNSHIP_STREET"         # cn.casehub.MediationOrgKind
    division_code = "210102"         # where it is (GB/T 2260)
    lawfully_established = true      # 依法设立: only these agreements may be judicially confirmed
    credit_code = "..."              # optional
    contact = "024-..."              # optional

    [[mediator]]
    code = "M-0001"
    name = "..."
    organisation = "MO-210102-0001"

Court directory file, TOML:

    order = ["party_domicile", "subject_matter", "organisation"]   # which place decides among basic courts

    [[court]]
    code = "辽0102"
    name = "沈阳市和平区人民法院"
    level = "BASIC"                  # cn.casehub.CourtLevel
    divisions = ["210102"]           # the divisions whose basic court it is
    delivery = "http"                # http | kafka
    endpoint = "http://127.0.0.1:18084/courts/辽0102/confirmations"
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

ORG_KINDS = {
    "ENTERPRISE_COMMITTEE",
    "TOWNSHIP_STREET",
    "INDUSTRY",
    "REGIONAL",
    "PEOPLES_MEDIATION",
    "PRE_ARBITRATION",
    "COURT_DELEGATED",
    "NEW_EMPLOYMENT_FORM",
    "UNION",
    "OTHER",
}
COURT_LEVELS = {"BASIC", "INTERMEDIATE", "HIGH", "SUPREME", "UNKNOWN"}
PLACES = ("party_domicile", "subject_matter", "organisation")
DELIVERIES = {"http", "kafka"}


class DirectoryError(ValueError):
    """A roster or court directory entry is missing a field or has a value that cannot be used."""


def name_key(name: str | None) -> str:
    """An organisation's name in a comparable form (full-width, spaces, brackets)."""
    text = unicodedata.normalize("NFKC", name or "")
    return "".join(text.split()).replace("(", "").replace(")", "")


@dataclass(frozen=True)
class Organisation:
    code: str
    name: str
    kind: str
    division_code: str | None
    lawfully_established: bool
    credit_code: str | None = None
    contact: str | None = None


@dataclass(frozen=True)
class Mediator:
    code: str
    name: str
    organisation: str


@dataclass(frozen=True)
class Roster:
    organisations: tuple[Organisation, ...] = ()
    mediators: tuple[Mediator, ...] = ()

    def find(self, org: dict | None) -> Organisation | None:
        """The roster entry of an event's MediationOrganisation: by roster id, credit code, then name."""
        if not org:
            return None
        for entry in self.organisations:
            if org.get("roster_id") and entry.code == org["roster_id"]:
                return entry
        for entry in self.organisations:
            if org.get("credit_code") and entry.credit_code == org["credit_code"]:
                return entry
        key = name_key(org.get("name"))
        return next((e for e in self.organisations if name_key(e.name) == key), None)


@dataclass(frozen=True)
class CourtEntry:
    code: str
    name: str
    level: str
    divisions: tuple[str, ...]
    delivery: str = "http"
    endpoint: str | None = None

    def as_court(self) -> dict:
        """The cn.casehub.Court record."""
        return {
            "name": self.name,
            "code": self.code,
            "level": self.level,
            "division_code": self.divisions[0] if self.divisions else None,
        }


@dataclass(frozen=True)
class CourtDirectory:
    courts: tuple[CourtEntry, ...] = ()
    order: tuple[str, ...] = PLACES

    def by_code(self, code: str | None) -> CourtEntry | None:
        return next((c for c in self.courts if code and c.code == code), None)

    def by_name(self, name: str | None) -> CourtEntry | None:
        key = name_key(name)
        return next((c for c in self.courts if key and name_key(c.name) == key), None)

    def basic_court_of(self, division: str | None) -> CourtEntry | None:
        """The basic court of a division (a county-level code; a city's code matches its districts' courts only
        when listed)."""
        if not division:
            return None
        return next((c for c in self.courts if c.level == "BASIC" and division in c.divisions), None)


def _need(entry: dict, key: str, where: str):
    if entry.get(key) in (None, ""):
        raise DirectoryError(f"{where}: {key} is required")
    return entry[key]


def roster_from(doc: dict) -> Roster:
    """A Roster from a parsed roster file (tables [[organisation]] and [[mediator]]).

    Raises:
        DirectoryError: a missing code or name, an unknown kind, a duplicate code, a mediator of no organisation.
    """
    orgs, seen = [], set()
    for i, e in enumerate(doc.get("organisation", []), 1):
        where = f"roster organisation #{i}"
        code = str(_need(e, "code", where))
        kind = e.get("kind", "OTHER")
        if kind not in ORG_KINDS:
            raise DirectoryError(f"{where} ({code}): kind {kind!r} is not one of {', '.join(sorted(ORG_KINDS))}")
        if code in seen:
            raise DirectoryError(f"{where}: code {code} appears twice")
        seen.add(code)
        lawful = e.get("lawfully_established", False)
        if not isinstance(lawful, bool):
            raise DirectoryError(f"{where} ({code}): lawfully_established must be true or false")
        orgs.append(
            Organisation(
                code,
                str(_need(e, "name", where)),
                kind,
                e.get("division_code"),
                lawful,
                e.get("credit_code"),
                e.get("contact"),
            )
        )
    mediators = []
    for i, e in enumerate(doc.get("mediator", []), 1):
        where = f"roster mediator #{i}"
        org = str(_need(e, "organisation", where))
        if org not in seen:
            raise DirectoryError(f"{where}: organisation {org} is not in the roster")
        mediators.append(Mediator(str(_need(e, "code", where)), str(_need(e, "name", where)), org))
    return Roster(tuple(orgs), tuple(mediators))


def directory_from(doc: dict) -> CourtDirectory:
    """A CourtDirectory from a parsed directory file (`order` and [[court]] tables).

    Raises:
        DirectoryError: a missing code, name or endpoint, an unknown level, delivery or place.
    """
    order = tuple(doc.get("order", PLACES))
    bad = [p for p in order if p not in PLACES]
    if bad:
        raise DirectoryError(f"court directory: order names {', '.join(bad)}; known places: {', '.join(PLACES)}")
    courts, seen = [], set()
    for i, e in enumerate(doc.get("court", []), 1):
        where = f"court directory entry #{i}"
        code = str(_need(e, "code", where))
        if code in seen:
            raise DirectoryError(f"{where}: code {code} appears twice")
        seen.add(code)
        level = e.get("level", "BASIC")
        if level not in COURT_LEVELS:
            raise DirectoryError(f"{where} ({code}): level {level!r} is not one of {', '.join(sorted(COURT_LEVELS))}")
        delivery = e.get("delivery", "http")
        if delivery not in DELIVERIES:
            raise DirectoryError(f"{where} ({code}): delivery must be http or kafka, not {delivery!r}")
        endpoint = e.get("endpoint")
        if delivery == "http" and not endpoint:
            raise DirectoryError(f"{where} ({code}): an http court needs an endpoint URL")
        courts.append(
            CourtEntry(code, str(_need(e, "name", where)), level, tuple(e.get("divisions", ())), delivery, endpoint)
        )
    return CourtDirectory(tuple(courts), order)


@dataclass(frozen=True)
class ReferenceData:
    """Roster and directory together, as the confirmation rules take them."""

    roster: Roster = field(default_factory=Roster)
    directory: CourtDirectory = field(default_factory=CourtDirectory)
