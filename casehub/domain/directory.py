"""Reference data the confirmation path needs: the roster of mediation organisations and mediators, and the
court directory. Plain frozen dataclasses parsed from plain dicts (a TOML file, or a roster's CSV rows, read by a
shell). Pure.

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


def _tables(doc: dict, key: str) -> list[dict]:
    """The [[key]] tables of a parsed file; anything else under that key is an error naming it."""
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise DirectoryError(f"{key} must be a list of [[{key}]] tables, not {value!r}")
    return value


def _text(entry: dict, key: str, where: str, required: bool = False) -> str | None:
    """A text field of an entry: a number where text belongs is an error (an unquoted division code 210102 would
    never match a court), not silently turned into something else."""
    value = entry.get(key)
    if value in (None, ""):
        if required:
            raise DirectoryError(f"{where}: {key} is required")
        return None
    if not isinstance(value, str):
        raise DirectoryError(f"{where}: {key} must be text (in quotes in TOML), not {value!r}")
    return value


def roster_from(doc: dict) -> Roster:
    """A Roster from a parsed roster file (tables [[organisation]] and [[mediator]]; a CSV file's rows are brought to
    the same shape by `roster_doc_from_rows`).

    Raises:
        DirectoryError: a missing code or name, a number where text belongs, a division code that is not six
            digits, an unknown kind, a duplicate code, a mediator of no organisation.
    """
    orgs, seen = [], set()
    for i, e in enumerate(_tables(doc, "organisation"), 1):
        where = e.get("_where") or f"roster organisation #{i}"
        code = _text(e, "code", where, required=True)
        where = f"{where} ({code})"
        kind = e.get("kind") or "OTHER"
        if kind not in ORG_KINDS:
            raise DirectoryError(f"{where}: kind {kind!r} is not one of {', '.join(sorted(ORG_KINDS))}")
        if code in seen:
            raise DirectoryError(f"{where}: code {code} appears twice")
        seen.add(code)
        lawful = e.get("lawfully_established", False)
        if not isinstance(lawful, bool):
            raise DirectoryError(f"{where}: lawfully_established must be true or false")
        division = _text(e, "division_code", where)
        if division is not None and not (len(division) == 6 and division.isdigit()):
            raise DirectoryError(f"{where}: division_code {division!r} is not a six-digit code (GB/T 2260)")
        orgs.append(
            Organisation(
                code,
                _text(e, "name", where, required=True),
                kind,
                division,
                lawful,
                _text(e, "credit_code", where),
                _text(e, "contact", where),
            )
        )
    mediators = []
    for i, e in enumerate(_tables(doc, "mediator"), 1):
        where = e.get("_where") or f"roster mediator #{i}"
        org = _text(e, "organisation", where, required=True)
        if org not in seen:
            raise DirectoryError(f"{where}: organisation {org} is not in the roster")
        mediators.append(Mediator(_text(e, "code", where, required=True), _text(e, "name", where, required=True), org))
    return Roster(tuple(orgs), tuple(mediators))


# A roster kept as a spreadsheet (CSV): its columns by the roster's keys or by their Chinese names
ORGANISATION_COLUMNS = {
    "code": ("code", "代码", "编码", "组织代码"),
    "name": ("name", "名称", "组织名称", "调解组织名称"),
    "kind": ("kind", "类型", "类别", "组织类型"),
    "division_code": ("division_code", "行政区划代码", "区划代码"),
    "lawfully_established": ("lawfully_established", "依法设立", "是否依法设立"),
    "credit_code": ("credit_code", "统一社会信用代码", "信用代码"),
    "contact": ("contact", "联系方式", "联系电话"),
}
MEDIATOR_COLUMNS = {
    "code": ("code", "代码", "编码", "调解员代码"),
    "name": ("name", "姓名", "调解员姓名"),
    "organisation": ("organisation", "所属组织", "组织代码", "调解组织代码"),
}
KIND_NAMES = {  # cn.casehub.MediationOrgKind by the Chinese names a clerk writes
    "企业劳动争议调解委员会": "ENTERPRISE_COMMITTEE",
    "企业调解委员会": "ENTERPRISE_COMMITTEE",
    "乡镇街道调解组织": "TOWNSHIP_STREET",
    "乡镇、街道调解组织": "TOWNSHIP_STREET",
    "行业性调解组织": "INDUSTRY",
    "区域性调解组织": "REGIONAL",
    "人民调解委员会": "PEOPLES_MEDIATION",
    "仲裁院调解中心": "PRE_ARBITRATION",
    "仲裁前调解": "PRE_ARBITRATION",
    "委派调解组织": "COURT_DELEGATED",
    "委托调解组织": "COURT_DELEGATED",
    "新就业形态劳动纠纷调解组织": "NEW_EMPLOYMENT_FORM",
    "工会调解组织": "UNION",
    "其他": "OTHER",
}
YES, NO = {"true", "yes", "y", "1", "是", "√"}, {"false", "no", "n", "0", "否", ""}
KEEP_AS_WRITTEN = {"name", "contact"}  # shown as the roster has them


def _columns(header: list[str], wanted: dict[str, tuple[str, ...]], what: str) -> dict[str, str]:
    """The roster key of each header column; an unknown or repeated column is an error (not a silently empty key)."""
    out: dict[str, str] = {}
    aliases = {unicodedata.normalize("NFKC", a).strip().lower(): key for key, names in wanted.items() for a in names}
    for column in header:
        key = aliases.get(unicodedata.normalize("NFKC", column or "").strip().lower())
        if key is None:
            known = "; ".join(f"{k} ({'/'.join(v[1:])})" for k, v in wanted.items())
            raise DirectoryError(f"{what}: unknown column {column!r}; columns: {known}")
        if key in out.values():
            raise DirectoryError(f"{what}: two columns mean {key}")
        out[column] = key
    for key in ("code", "name") + (("organisation",) if "organisation" in wanted else ()):
        if key not in out.values():
            raise DirectoryError(f"{what}: no {key} column ({'/'.join(wanted[key])})")
    return out


def roster_doc_from_rows(
    organisations: tuple[list[str], list[tuple[int, dict]]], mediators: tuple[list[str], list[tuple[int, dict]]] | None
) -> dict:
    """Pure: a roster's CSV rows in the shape of the TOML roster (for `roster_from`).

    organisations, mediators: (header, [(line number, row by header column)]). Cells are text: lawfully_established
    reads true/false, yes/no, 1/0 or 是/否; kind the MediationOrgKind symbol or its Chinese name (KIND_NAMES).

    Raises:
        DirectoryError: an unknown column, or a cell that reads as nothing it may be (naming the line and column).
    """
    doc: dict = {"organisation": [], "mediator": []}
    header, rows = organisations
    keys = _columns(header, ORGANISATION_COLUMNS, "roster")
    for line, row in rows:
        entry = {"_where": f"line {line}"}
        for column, key in keys.items():
            value = (row.get(column) or "").strip()
            if key not in KEEP_AS_WRITTEN:  # codes, kinds and yes/no: full-width digits and letters read as such
                value = unicodedata.normalize("NFKC", value)
            if key == "lawfully_established":
                if value.lower() not in YES | NO:
                    raise DirectoryError(f"line {line}, column {column}: {value!r} is not 是/否 (true/false)")
                entry[key] = value.lower() in YES
            elif key == "kind":
                entry[key] = KIND_NAMES.get(value, value.upper())
            else:
                entry[key] = value or None
        doc["organisation"].append(entry)
    if mediators is not None:
        header, rows = mediators
        keys = _columns(header, MEDIATOR_COLUMNS, "mediators")
        for line, row in rows:
            entry = {"_where": f"mediators line {line}"}
            entry.update(
                {key: unicodedata.normalize("NFKC", row.get(col) or "").strip() or None for col, key in keys.items()}
            )
            doc["mediator"].append(entry)
    return doc


def directory_from(doc: dict) -> CourtDirectory:
    """A CourtDirectory from a parsed directory file (`order` and [[court]] tables).

    Raises:
        DirectoryError: a missing code, name or endpoint, a number where text belongs, an unknown level, delivery
            or place.
    """
    order = doc.get("order", PLACES)
    if not isinstance(order, (list, tuple)):
        raise DirectoryError(f"court directory: order must be a list of places ({', '.join(PLACES)}), not {order!r}")
    order = tuple(order)
    bad = [str(p) for p in order if p not in PLACES]
    if bad:
        raise DirectoryError(f"court directory: order names {', '.join(bad)}; known places: {', '.join(PLACES)}")
    courts, seen = [], set()
    for i, e in enumerate(_tables(doc, "court"), 1):
        where = f"court directory entry #{i}"
        code = _text(e, "code", where, required=True)
        where = f"{where} ({code})"
        if code in seen:
            raise DirectoryError(f"{where}: code {code} appears twice")
        seen.add(code)
        level = e.get("level", "BASIC")
        if level not in COURT_LEVELS:
            raise DirectoryError(f"{where}: level {level!r} is not one of {', '.join(sorted(COURT_LEVELS))}")
        delivery = e.get("delivery", "http")
        if delivery not in DELIVERIES:
            raise DirectoryError(f"{where}: delivery must be http or kafka, not {delivery!r}")
        endpoint = _text(e, "endpoint", where)
        if delivery == "http" and not endpoint:
            raise DirectoryError(f"{where}: an http court needs an endpoint URL")
        divisions = e.get("divisions", [])
        if not isinstance(divisions, list) or not all(
            isinstance(d, str) and len(d) == 6 and d.isdigit() for d in divisions
        ):
            raise DirectoryError(f"{where}: divisions must be a list of six-digit codes in quotes, not {divisions!r}")
        courts.append(
            CourtEntry(code, _text(e, "name", where, required=True), level, tuple(divisions), delivery, endpoint)
        )
    return CourtDirectory(tuple(courts), order)


@dataclass(frozen=True)
class ReferenceData:
    """Roster and directory together, as the confirmation rules take them."""

    roster: Roster = field(default_factory=Roster)
    directory: CourtDirectory = field(default_factory=CourtDirectory)
