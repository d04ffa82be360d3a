"""What the web page and the JSON API read from the case view: the filtered list with paging, the search by any
agency's case number, employer or masked party, one case with its confirmation requests, and the operator's
lists. Plain SQLAlchemy Core over casehub.sinks.view_tables; no HTTP here."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa

from casehub.domain.directory import name_key
from casehub.domain.references import normalise_number
from casehub.sinks.case_view import ANSWER_RANK, load_case
from casehub.sinks.view_tables import (
    alerts,
    case_agreements,
    case_parties,
    case_refs,
    case_stages,
    cases,
    confirmation_deliveries,
    confirmation_requests,
    court_answers,
    organisations,
)

LIST_COLUMNS = (
    cases.c.case_id,
    cases.c.version,
    cases.c.stage,
    cases.c.status,
    cases.c.updated_at,
    cases.c.division_code,
    cases.c.organisation,
    cases.c.group_dispute,
    cases.c.worker_count,
    cases.c.migrant_worker,
    cases.c.overdue,
    cases.c.confirmation_state,
    cases.c.claimed_fen,
)


@dataclass(frozen=True)
class Filters:
    stage: str | None = None
    status: str | None = None
    region: str | None = None  # division code or its prefix (21: Liaoning, 2101: Shenyang)
    organisation: str | None = None  # part of a mediation organisation's name
    overdue: bool | None = None
    group_dispute: bool | None = None
    q: str | None = None  # search: a case number, credit code, employer name or masked party
    page: int = 1
    per_page: int = 50


def search_ids(conn: sa.Connection, q: str) -> sa.Select:
    """Case ids matching a search text: any agency's case number (normalised: full-width, brackets, spaces,
    第/号), an employer's credit code or name, a party's masked ID or phone, or a party's name.

    A case number that some case carries exactly finds those cases only (…第1号 is not …第12号); one that none
    carries finds the numbers it begins (a clerk typing the first part). Codes and masked forms are compared as
    typed in any width, with spaces, in either case."""
    text = q.strip()
    number = normalise_number(text)
    key = name_key(text)
    compact = "".join(unicodedata.normalize("NFKC", text).split()).upper()  # credit code, masked ID or phone
    exact = conn.execute(sa.select(case_refs.c.case_id).where(case_refs.c.normalised == number).limit(1)).first()
    matches = (
        case_refs.c.normalised == number
        if exact
        else case_refs.c.normalised.like(f"{_escape(number)}%", escape="\\")
        if len(number) >= 4
        else sa.false()
    )
    by_ref = sa.select(case_refs.c.case_id).where(matches)
    by_party = sa.select(case_parties.c.case_id).where(
        sa.or_(
            case_parties.c.credit_code == compact,
            sa.func.upper(case_parties.c.id_masked) == compact,
            case_parties.c.phone_masked == compact,
            case_parties.c.name_key.like(f"%{_escape(key)}%", escape="\\") if len(key) >= 2 else sa.false(),
        )
    )
    return sa.union(by_ref, by_party)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_cases(conn: sa.Connection, f: Filters) -> tuple[int, list[dict]]:
    """(total, rows of one page) of live cases (redirects left out), newest first."""
    where = [cases.c.merged_into.is_(None)]
    if f.stage:
        where.append(cases.c.stage == f.stage)
    if f.status:
        where.append(cases.c.status.like(f"%{_escape(f.status)}%", escape="\\"))
    if f.region:
        where.append(cases.c.division_code.like(f"{_escape(f.region)}%", escape="\\"))
    if f.organisation:
        where.append(cases.c.organisation.like(f"%{_escape(f.organisation)}%", escape="\\"))
    if f.overdue is not None:
        where.append(cases.c.overdue.is_(f.overdue))
    if f.group_dispute is not None:
        where.append(cases.c.group_dispute.is_(f.group_dispute))
    if f.q:
        found = search_ids(conn, f.q).subquery()
        # a hit on a merged-away id counts for the case it was merged into
        targets = sa.select(sa.func.coalesce(cases.c.merged_into, cases.c.case_id)).where(
            cases.c.case_id.in_(sa.select(found.c.case_id))
        )
        where.append(cases.c.case_id.in_(targets))
    total = conn.execute(sa.select(sa.func.count()).select_from(cases).where(*where)).scalar_one()
    page = max(1, f.page)
    per = min(max(1, f.per_page), 200)
    rows = conn.execute(
        sa.select(*LIST_COLUMNS)
        .where(*where)
        .order_by(cases.c.updated_at.desc(), cases.c.case_id)
        .limit(per)
        .offset((page - 1) * per)
    ).all()
    return total, [dict(r._mapping) for r in rows]


def stages_of(conn: sa.Connection, case_ids: list[str]) -> dict[str, list[str]]:
    """Agency kinds each case crossed (for the list's badges)."""
    out: dict[str, list[str]] = {}
    if not case_ids:
        return out
    for cid, agency in conn.execute(
        sa.select(case_stages.c.case_id, case_stages.c.agency_kind)
        .where(case_stages.c.case_id.in_(case_ids))
        .distinct()
        .order_by(case_stages.c.case_id, case_stages.c.agency_kind)
    ):
        out.setdefault(cid, []).append(agency)
    return out


def case_detail(conn: sa.Connection, case_id: str, court_code: str | None = None) -> dict | None:
    """The case record (redirects followed), its agreements' confirmation decisions and its requests with
    deliveries and the court's answers (only the given court's requests when court_code is set)."""
    record = load_case(conn, case_id)
    if record is None:
        return None
    cid = record["case_id"]
    decisions = [
        dict(r._mapping)
        for r in conn.execute(
            sa.select(
                case_agreements.c.seq,
                case_agreements.c.agreement_key,
                case_agreements.c.confirmation_decision,
                case_agreements.c.decision_reason,
                case_agreements.c.request_id,
            )
            .where(case_agreements.c.case_id == cid)
            .order_by(case_agreements.c.seq)
        )
    ]
    return {"record": record, "decisions": decisions, "requests": requests_of(conn, case_id=cid, court_code=court_code)}


def case_of_record(conn: sa.Connection, system: str, record_id: str) -> str | None:
    """The live case that holds a source record (as a stage of it), or None."""
    return conn.execute(
        sa.select(case_stages.c.case_id)
        .join(cases, cases.c.case_id == case_stages.c.case_id)
        .where(case_stages.c.system == system, case_stages.c.record_id == record_id, cases.c.merged_into.is_(None))
        .limit(1)
    ).scalar()


def requests_of(
    conn: sa.Connection,
    case_id: str | None = None,
    court_code: str | None = None,
    request_id: str | None = None,
    limit: int | None = None,
) -> list[dict]:
    """Confirmation requests (without the stored body) with their deliveries and the court's answers.

    court_code: a court's own requests, and only those casehub sent it (a request not sent yet, flagged late or
    withdrawn unsent is none of its business).
    """
    q = sa.select(*(c for c in confirmation_requests.columns if c.name != "request"))
    if case_id:
        q = q.where(confirmation_requests.c.case_id == case_id)
    if court_code:
        sent = sa.exists().where(
            confirmation_deliveries.c.request_id == confirmation_requests.c.request_id,
            confirmation_deliveries.c.outcome != "EXPIRED",
        )
        q = q.where(confirmation_requests.c.court_code == court_code, sent)
    if request_id:
        q = q.where(confirmation_requests.c.request_id == request_id)
    if limit is not None:  # the operator page: what needs attention (not delivered) first, then by deadline
        delivered = sa.case((confirmation_requests.c.state == "DELIVERED", 1), else_=0)
        q = q.order_by(delivered, confirmation_requests.c.deadline, confirmation_requests.c.request_id).limit(limit)
    else:
        q = q.order_by(confirmation_requests.c.deadline, confirmation_requests.c.request_id)
    rows = [dict(r._mapping) for r in conn.execute(q)]
    ids = [r["request_id"] for r in rows]
    deliveries: dict[str, list] = {}
    answers: dict[str, list] = {}
    if ids:
        for d in conn.execute(
            sa.select(confirmation_deliveries)
            .where(confirmation_deliveries.c.request_id.in_(ids))
            .order_by(confirmation_deliveries.c.attempt)
        ):
            deliveries.setdefault(d.request_id, []).append(dict(d._mapping))
        for a in conn.execute(
            sa.select(court_answers).where(court_answers.c.request_id.in_(ids)).order_by(court_answers.c.decided_at)
        ):
            answers.setdefault(a.request_id, []).append(dict(a._mapping))
    for r in rows:
        r["deliveries"] = deliveries.get(r["request_id"], [])
        r["answers"] = sorted(
            answers.get(r["request_id"], []), key=lambda a: (ANSWER_RANK.get(a["outcome"], 9), a["outcome"])
        )
    return rows


def request_body(conn: sa.Connection, request_id: str) -> dict | None:
    """The stored request (no identities) of one id, for the court's API."""
    text = conn.execute(
        sa.select(confirmation_requests.c.request).where(confirmation_requests.c.request_id == request_id)
    ).scalar_one_or_none()
    return None if text is None else json.loads(text)


def missing_organisations(conn: sa.Connection) -> list[dict]:
    """Mediation organisations named by cases but absent from the roster, with how many cases name them: matched
    as the confirmation rules match them (an agreement's organisation by roster id, credit code, then name; a stage
    names its organisation only)."""
    known = set(conn.execute(sa.select(organisations.c.name_key)).scalars())
    # names whose agreements the rules matched by roster id or credit code: those organisations are in the roster
    known |= {
        name_key(name)
        for name in conn.execute(
            sa.select(case_agreements.c.organisation).where(
                case_agreements.c.confirmation_decision.not_in(("NOT_IN_ROSTER", "UNDECIDED")),
                case_agreements.c.organisation.is_not(None),
            )
        ).scalars()
    }
    counts: dict[str, dict] = {}
    for name, cid in conn.execute(
        sa.select(case_stages.c.organisation, case_stages.c.case_id).where(
            case_stages.c.agency_kind == "MEDIATION", case_stages.c.organisation.is_not(None)
        )
    ):
        if name_key(name) in known:
            continue
        entry = counts.setdefault(name, {"name": name, "cases": set()})
        entry["cases"].add(cid)
    return sorted(
        ({"name": e["name"], "cases": len(e["cases"]), "example": min(e["cases"])} for e in counts.values()),
        key=lambda e: (-e["cases"], e["name"]),
    )


def unrouted_agreements(conn: sa.Connection) -> list[dict]:
    """Agreements eligible but for a court: the directory names none for the places tried (decision NO_COURT), with
    the last day to apply, earliest first: an operator adds the court to the directory before then."""
    rows = conn.execute(
        sa.select(
            case_agreements.c.case_id,
            case_agreements.c.number,
            case_agreements.c.organisation,
            case_agreements.c.effective_date,
            case_agreements.c.decision_reason,
        )
        .where(case_agreements.c.confirmation_decision == "NO_COURT")
        .order_by(case_agreements.c.effective_date, case_agreements.c.case_id)
    ).all()
    return [dict(r._mapping) for r in rows]


def alert_list(conn: sa.Connection, limit: int = 200) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(sa.select(alerts).order_by(alerts.c.raised_at.desc()).limit(limit))]


def count_requests(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(confirmation_requests)).scalar_one()


def roster_size(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(organisations)).scalar_one()


def count_cases(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(cases).where(cases.c.merged_into.is_(None))).scalar_one()
