"""The case view store: SQLite by default, PostgreSQL (or MySQL/MariaDB) in production; schema by migrations.

Writes are batched and idempotent: a case's row moves only to a newer version (a stale or repeated record changes
nothing), and its parts are replaced whole by the accepted version. In the same transaction, each agreement of the
version is judged for judicial confirmation (casehub.domain.confirmation) and an eligible one gets its request in
the outbox table, once per agreement ever.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import sqlalchemy as sa

from casehub.domain.confirmation import (
    NEVER_SENT,
    REINSTATED,
    REQUEST,
    WITHDRAWING,
    WITHDRAWN,
    agreement_key,
    build_request,
    current_agreement_key,
    decide,
    outbox_moves,
    request_id_for,
)
from casehub.domain.directory import ReferenceData, Roster, name_key
from casehub.domain.references import normalise_number
from casehub.sinks.migrate import upgrade
from casehub.sinks.view_tables import (
    CHILDREN,
    alerts,
    case_agreements,
    cases,
    confirmation_deliveries,
    confirmation_requests,
    court_answers,
    mediators,
    organisations,
    view_meta,
)

MAX_REDIRECTS = 20  # a chain of merges longer than this is a loop
ANSWER_RANK = {"RECEIVED": 1, "ACCEPTED": 2, "RULED_VALID": 3, "REJECTED": 3, "NOT_ACCEPTED": 3}


def _json_default(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def millis(moment: dt.datetime) -> dt.datetime:
    """A time as Avro's timestamp-millis keeps it: what the view stores of anything that also travels on a topic,
    so a view rebuilt from the topics holds the same values."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def to_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default, sort_keys=True)


def create_engine(url: str, migrate: bool = True) -> sa.Engine:
    """Engine for the case view; creates the SQLite folder and brings the schema to the newest migration."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _wal(dbapi_conn, _):  # readers (the web view, the relay) and the writer (the sink) work side by side
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA busy_timeout=10000")

    if migrate:
        upgrade(engine)
    return engine


def _fen(amounts: dict | None, key: str) -> int | None:
    return ((amounts or {}).get(key) or {}).get("amount_fen")


def rows_for(case: dict, decisions: list | None = None) -> tuple[dict, dict[str, list[dict]]]:
    """Pure: the case row and the child rows (table name -> rows) of one CaseRecord.

    decisions: for each of case["agreements"], (state, reason, request_id) of its confirmation decision.
    """
    cid = case["case_id"]
    stages = case.get("stages") or []
    org = next((s.get("organisation") for s in stages if s.get("agency_kind") == "MEDIATION"), None)
    amounts = case.get("amounts")
    head = {
        "case_id": cid,
        "version": case["version"],
        "stage": case["stage"],
        "status": case["status"],
        "merged_into": case.get("merged_into"),
        "created_at": case["created_at"],
        "updated_at": case["updated_at"],
        "closed_at": case.get("closed_at"),
        "division_code": case.get("division_code"),
        "organisation": org,
        "group_dispute": bool(case.get("group_dispute")),
        "worker_count": case.get("worker_count"),
        "migrant_worker": bool(case.get("migrant_worker")),
        "dispatched_worker": bool(case.get("dispatched_worker")),
        "new_employment_form": bool(case.get("new_employment_form")),
        "mediated_before_arbitration": bool(case.get("mediated_before_arbitration")),
        "resolved_by_negotiation_or_mediation": bool(case.get("resolved_by_negotiation_or_mediation")),
        "overdue": bool(case.get("overdue")),
        "claimed_fen": _fen(amounts, "claimed"),
        "agreed_fen": _fen(amounts, "agreed"),
        "awarded_fen": _fen(amounts, "awarded"),
        "paid_fen": _fen(amounts, "paid"),
        "confirmation_state": (case.get("confirmation") or {}).get("state"),
        "record": to_json(case),
    }
    child: dict[str, list[dict]] = {t.name: [] for t in CHILDREN}
    for i, s in enumerate(stages):
        child["case_stages"].append(
            {
                "case_id": cid,
                "seq": i,
                **{k: s.get(k) for k in ("stage", "kind", "agency_kind", "system", "record_id", "case_number")},
                **{k: s.get(k) for k in ("organisation", "division_code", "started_at", "ended_at", "status")},
                "outcome": s.get("outcome"),
                "attached": bool(s.get("attached")),
            }
        )
    for i, e in enumerate(case.get("timeline") or []):
        child["case_events"].append(
            {
                "case_id": cid,
                "seq": i,
                "event_id": e["event_id"],
                "agency_kind": e["agency_kind"],
                "event_type": e["event_type"],
                "occurred_at": e["occurred_at"],
                "source_system": e["source"]["system"],
                "record_id": e["source"]["record_id"],
                "summary": e["summary"],
                "case_number": e.get("case_number"),
                "stage_kind": e.get("stage_kind"),
                "attached": bool(e.get("attached")),
            }
        )
    for i, p in enumerate(case.get("parties") or []):
        child["case_parties"].append(
            {
                "case_id": cid,
                "seq": i,
                "role": p.get("role", "UNKNOWN"),
                "party_type": p.get("party_type", "UNKNOWN"),
                "name": p["name"],
                "name_key": name_key(p["name"]),
                "id_masked": p.get("id_masked"),
                "phone_masked": p.get("phone_masked"),
                "credit_code": p.get("credit_code"),
                "division_code": p.get("division_code"),
                "migrant_worker": bool(p.get("migrant_worker")),
                "dispatched_worker": bool(p.get("dispatched_worker")),
                "new_employment_form": bool(p.get("new_employment_form")),
            }
        )
    for i, c in enumerate(case.get("claims") or []):
        child["case_claims"].append(
            {
                "case_id": cid,
                "seq": i,
                "type": c.get("type", "OTHER"),
                "amount_fen": (c.get("amount") or {}).get("amount_fen"),
                "description": c.get("description"),
            }
        )
    for i, link in enumerate(case.get("links") or []):
        child["case_links"].append(
            {
                "case_id": cid,
                "seq": i,
                "event_id": link["event_id"],
                "rule": link["rule"],
                "detail": link["detail"],
                "matched": to_json(link.get("matched") or []),
                "window_days": link.get("window_days"),
                "other_event_id": link.get("other_event_id"),
                "correction_id": link.get("correction_id"),
                "linked_at": link.get("linked_at"),
            }
        )
    for i, d in enumerate(case.get("deadlines") or []):
        child["case_deadlines"].append(
            {
                "case_id": cid,
                "seq": i,
                "kind": d["kind"],
                "due": d["due"],
                "state": d.get("state", "UNKNOWN"),
                "basis": d.get("basis", ""),
                "start_date": d.get("start_date"),
                "event_id": d.get("event_id"),
                "working_days": bool(d.get("working_days")),
                "extended_days": d.get("extended_days"),
                "note": d.get("note"),
            }
        )
    for i, a in enumerate(case.get("agreements") or []):
        ag = a.get("agreement") or {}
        state, reason, rid = decisions[i] if decisions else ("UNDECIDED", "", None)
        child["case_agreements"].append(
            {
                "case_id": cid,
                "seq": i,
                "agreement_key": agreement_key(a),
                "number": ag.get("number"),
                "agreement_kind": ag.get("agreement_kind", "MEDIATION_AGREEMENT"),
                "signed_at": ag.get("signed_at"),
                "effective_date": ag.get("effective_date"),
                "amount_fen": (ag.get("amount") or {}).get("amount_fen"),
                "consent_worker": bool(ag.get("confirmation_consent_worker")),
                "consent_employer": bool(ag.get("confirmation_consent_employer")),
                "organisation": (a.get("organisation") or {}).get("name"),
                "performance": a.get("performance", "UNKNOWN"),
                "performed_at": a.get("performed_at"),
                "defaulted_at": a.get("defaulted_at"),
                "followed_by": to_json(a.get("followed_by") or []),
                "confirmation_decision": state,
                "decision_reason": reason,
                "request_id": rid,
            }
        )
    seen = set()
    for r in case.get("refs") or []:
        key = (r["kind"], r["system"], r["number"])
        if key in seen:
            continue
        seen.add(key)
        child["case_refs"].append(
            {"case_id": cid, "kind": r["kind"], "system": r["system"], "number": r["number"], "normalised": _norm(r)}
        )
    return head, child


def _norm(ref: dict) -> str:
    return normalise_number(ref["number"])


def plan_confirmations(case: dict, ref: ReferenceData | None, days: int) -> tuple[list, list[dict]]:
    """Pure: each agreement's decision (state, reason, request_id) and the requests it asks for (no identities)."""
    decisions, requests = [], []
    if case.get("merged_into"):
        return decisions, requests
    for agreement in case.get("agreements") or []:
        if ref is None:
            decisions.append(("UNDECIDED", "no roster and court directory configured", None))
            continue
        decision = decide(case, agreement, ref, days)
        if decision.state != REQUEST:
            decisions.append((decision.state, decision.reason, None))
            continue
        rid = request_id_for(agreement)
        decisions.append((REQUEST, decision.reason, rid))
        requests.append(build_request(case, agreement, decision, case["updated_at"]))
    return decisions, requests


def request_row(request: dict, state: str = "PENDING") -> dict:
    return {
        "request_id": request["request_id"],
        "agreement_key": request["agreement_key"],
        "case_id": request["case_id"],
        "court_code": request["court"]["code"],
        "court_name": request["court"]["name"],
        "deadline": request["deadline"],
        "created_at": request["created_at"],
        "state": state,
        "route": request["route"],
        "request": to_json(request),
        "attempts": 0,
        "delivered_at": None,
        "last_error": None,
        "court_outcome": None,
        "court_case_number": None,
    }


def _by_key(conn: sa.Connection, key: sa.Column, value: sa.Column, keys) -> dict:
    """key -> value of the rows whose key is among `keys`, asked 500 at a time (databases cap a query's parameters)."""
    keys, out = list(keys), {}
    for i in range(0, len(keys), 500):
        out.update(conn.execute(sa.select(key, value).where(key.in_(keys[i : i + 500]))).all())
    return out


def upsert_cases(
    conn: sa.Connection, records: list[dict], ref: ReferenceData | None = None, confirmation_days: int = 30
) -> int:
    """Write case records in the caller's transaction; returns how many case rows changed.

    A record older than (or as old as) the stored version changes nothing. An accepted version replaces the
    case's parts and adds outbox rows for agreements newly eligible for judicial confirmation.
    """
    newest: dict[str, dict] = {}
    for case in records:  # within a batch the newest version of each case only
        if case["case_id"] not in newest or case["version"] > newest[case["case_id"]]["version"]:
            newest[case["case_id"]] = case
    if not newest:
        return 0
    stored: dict[str, int] = _by_key(conn, cases.c.case_id, cases.c.version, newest)
    inserts, updates, children, requests = [], [], {t.name: [] for t in CHILDREN}, []
    current: dict[str, tuple[str, str]] = {}  # agreement key -> its decision now
    for cid, case in newest.items():
        if cid in stored and stored[cid] >= case["version"]:
            continue  # stale or repeated: nothing of it is written
        decisions, wanted = plan_confirmations(case, ref, confirmation_days)
        for agreement, (state, reason, _) in zip(case.get("agreements") or [], decisions, strict=False):
            current[agreement_key(agreement)] = (state, reason)
        head, child = rows_for(case, decisions)
        (updates if cid in stored else inserts).append(head)
        for name, rows in child.items():
            children[name].extend(rows)
        requests.extend(wanted)
    accepted = [h["case_id"] for h in inserts + updates]
    if not accepted:
        return 0
    point_at_requests(conn, children["case_agreements"])
    if inserts:
        conn.execute(cases.insert(), inserts)
    if updates:
        params = [{**u, "_id": u["case_id"]} for u in updates]
        values = {c.name: sa.bindparam(c.name) for c in cases.columns if c.name != "case_id"}
        conn.execute(cases.update().where(cases.c.case_id == sa.bindparam("_id")).values(values), params)
    for table in CHILDREN:
        for i in range(0, len(accepted), 500):
            conn.execute(table.delete().where(table.c.case_id.in_(accepted[i : i + 500])))
        if children[table.name]:
            conn.execute(table.insert(), children[table.name])
    follow_decisions(conn, current)
    add_requests(conn, requests)
    return len(accepted)


def point_at_requests(conn: sa.Connection, rows: list[dict]) -> None:
    """Decision rows name the request their agreement has in the outbox: the id the rules give it, unless the
    outbox holds one made before (a view migrated from revision 0001 keeps its request ids)."""
    keys = [r["agreement_key"] for r in rows if r["request_id"]]
    if not keys:
        return
    held = _by_key(conn, confirmation_requests.c.agreement_key, confirmation_requests.c.request_id, keys)
    for r in rows:
        if r["request_id"] and held.get(r["agreement_key"], r["request_id"]) != r["request_id"]:
            r["request_id"] = held[r["agreement_key"]]


def _when(value):
    """A stored (JSON) moment or day as Python's: what the record held before it was written as JSON."""
    if not isinstance(value, str):
        return value
    return dt.date.fromisoformat(value) if len(value) == 10 else dt.datetime.fromisoformat(value)


def typed_record(text: str) -> dict:
    """A stored CaseRecord (JSON) with the moments and days the confirmation rules read as Python values again."""
    case = json.loads(text)
    case["updated_at"] = _when(case["updated_at"])
    for a in case.get("agreements") or []:
        for key in ("performed_at", "defaulted_at", "performance_notice_at", "follow_up_at"):
            a[key] = _when(a.get(key))
        ag = a.get("agreement") or {}
        for key in ("signed_at", "effective_date", "performance_due"):
            if key in ag:
                ag[key] = _when(ag[key])
    return case


def rejudge(engine: sa.Engine, ref: ReferenceData | None, confirmation_days: int = 30) -> int:
    """Judge every stored agreement again (the roster or the court directory changed): its decision, withdrawals
    and reinstatements, and requests for agreements eligible now, as if each case's current version had just
    arrived (so the live view and a rebuild with the same reference data agree). Returns how many agreements'
    decisions changed; the case rows themselves stay as they are.

    500 cases a transaction: the relay and the web view write beside it (SQLite lets one writer at a time)."""
    with engine.connect() as conn:
        ids = list(conn.execute(sa.select(case_agreements.c.case_id).distinct()).scalars())
    changed = 0
    for i in range(0, len(ids), 500):
        with engine.begin() as conn:
            changed += _rejudge_cases(conn, ids[i : i + 500], ref, confirmation_days)
    return changed


def _rejudge_cases(conn: sa.Connection, chunk: list[str], ref: ReferenceData | None, days: int) -> int:
    before = {
        (r.case_id, r.seq): (r.confirmation_decision, r.decision_reason)
        for r in conn.execute(sa.select(case_agreements).where(case_agreements.c.case_id.in_(chunk)))
    }
    rows, current, requests = [], {}, []
    for (text,) in conn.execute(sa.select(cases.c.record).where(cases.c.case_id.in_(chunk))):
        case = typed_record(text)
        decisions, wanted = plan_confirmations(case, ref, days)
        for agreement, (state, reason, _) in zip(case.get("agreements") or [], decisions, strict=False):
            current[agreement_key(agreement)] = (state, reason)
        rows += rows_for(case, decisions)[1]["case_agreements"]
        requests += wanted
    point_at_requests(conn, rows)
    conn.execute(case_agreements.delete().where(case_agreements.c.case_id.in_(chunk)))
    if rows:
        conn.execute(case_agreements.insert(), rows)
    follow_decisions(conn, current)
    add_requests(conn, requests)
    return sum(before.get((r["case_id"], r["seq"])) != (r["confirmation_decision"], r["decision_reason"]) for r in rows)


def reference_fingerprint(ref: ReferenceData | None, confirmation_days: int) -> str:
    """What the agreements are judged with, as a short hash (the reference data are frozen dataclasses)."""
    return hashlib.sha256(f"{ref!r}|{confirmation_days}".encode()).hexdigest()[:32]


def judge_with(engine: sa.Engine, ref: ReferenceData | None, confirmation_days: int = 30) -> int | None:
    """Bring the view in line with the reference data in use: the roster tables, and every stored agreement judged
    again when the view was last judged with other data (a roster or court directory edited while the hub was
    stopped, or while it ran). Returns how many agreements' decisions changed, None when the data are the same.

    The mark is written last: a process stopped halfway judges everything again at its next start."""
    mark = reference_fingerprint(ref, confirmation_days)
    with engine.connect() as conn:
        held = conn.execute(sa.select(view_meta.c.value).where(view_meta.c.name == "reference")).scalar()
    if held == mark:
        return None
    if ref is not None:
        with engine.begin() as conn:
            write_roster(conn, ref.roster)
    changed = rejudge(engine, ref, confirmation_days)
    with engine.begin() as conn:
        mark_judged(conn, ref, confirmation_days)
    return changed


def mark_judged(conn: sa.Connection, ref: ReferenceData | None, confirmation_days: int) -> None:
    """Note which reference data the view's agreements were judged with (a rebuild judged them all with these)."""
    conn.execute(view_meta.delete().where(view_meta.c.name == "reference"))
    conn.execute(view_meta.insert().values(name="reference", value=reference_fingerprint(ref, confirmation_days)))


def follow_decisions(conn: sa.Connection, current: dict[str, tuple[str, str]]) -> int:
    """Withdraw never-sent requests whose agreement is no longer eligible, reinstate withdrawn ones whose agreement
    is eligible again (casehub.domain.confirmation.outbox_moves); returns how many requests changed.

    Each change is guarded by the state it was judged on, so a request the relay delivered meanwhile stays
    delivered. The relay logs the withdrawal (WITHDRAWING -> WITHDRAWN) for restarts and rebuilds.
    """
    if not current:
        return 0
    held = _by_key(conn, confirmation_requests.c.agreement_key, confirmation_requests.c.state, current)
    moves = outbox_moves(current, held)
    changed = 0
    for key, (state, error) in moves.items():
        was = NEVER_SENT if state == WITHDRAWING else (WITHDRAWING, WITHDRAWN)
        changed += conn.execute(
            confirmation_requests.update()
            .where(confirmation_requests.c.agreement_key == key, confirmation_requests.c.state.in_(was))
            .values(state=state, last_error=error)
        ).rowcount
    return changed


def add_requests(conn: sa.Connection, requests: list[dict], state: str = "PENDING") -> int:
    """Outbox rows for requests whose agreement has none yet (one request per agreement, ever)."""
    if not requests:
        return 0
    keys = [r["agreement_key"] for r in requests]
    known = set(
        conn.execute(
            sa.select(confirmation_requests.c.agreement_key).where(confirmation_requests.c.agreement_key.in_(keys))
        ).scalars()
    )
    rows, seen = [], set()
    for r in requests:
        if r["agreement_key"] in known or r["agreement_key"] in seen:
            continue
        seen.add(r["agreement_key"])
        rows.append(request_row(r, state))
    if rows:
        conn.execute(confirmation_requests.insert(), rows)
    return len(rows)


def load_case(conn: sa.Connection, case_id: str) -> dict | None:
    """The stored CaseRecord (JSON-decoded) of a case id, following redirects to the surviving case; the record
    gets `redirected_from` when it was reached through one."""
    seen = []
    current = case_id
    for _ in range(MAX_REDIRECTS):
        row = conn.execute(sa.select(cases.c.record, cases.c.merged_into).where(cases.c.case_id == current)).first()
        if row is None:
            return None
        if not row.merged_into:
            record = json.loads(row.record)
            if seen:
                record["redirected_from"] = seen
            return record
        seen.append(current)
        current = row.merged_into
    raise RuntimeError(f"case {case_id}: more than {MAX_REDIRECTS} redirects (a loop of merged_into)")


def write_roster(conn: sa.Connection, roster: Roster) -> None:
    """Replace the roster tables with the roster file's content."""
    conn.execute(mediators.delete())
    conn.execute(organisations.delete())
    if roster.organisations:
        conn.execute(
            organisations.insert(),
            [
                {
                    "code": o.code,
                    "name": o.name,
                    "name_key": name_key(o.name),
                    "kind": o.kind,
                    "division_code": o.division_code,
                    "lawfully_established": o.lawfully_established,
                    "credit_code": o.credit_code,
                    "contact": o.contact,
                }
                for o in roster.organisations
            ],
        )
    if roster.mediators:
        conn.execute(
            mediators.insert(),
            [{"code": m.code, "name": m.name, "organisation": m.organisation} for m in roster.mediators],
        )


def apply_log_entry(conn: sa.Connection, entry: dict) -> None:
    """One confirmation-log entry (the relay's record of a request: its row and its deliveries) into the store.

    Idempotent: the request row takes the entry's state; deliveries are keyed by (request, attempt). An entry
    logged when an agreement's key still held its number gets today's key, unless another request holds it."""
    request, state, error = entry["request"], entry["state"], entry.get("last_error")
    key = current_agreement_key(request["agreement_key"], (request.get("agreement") or {}).get("number"))
    if key != request["agreement_key"]:  # logged when keys held the number: one request per agreement still
        holder = conn.execute(
            sa.select(confirmation_requests.c.request_id, confirmation_requests.c.state).where(
                confirmation_requests.c.agreement_key == key
            )
        ).first()
        if holder is None or holder.request_id == request["request_id"]:
            request = {**request, "agreement_key": key}
        elif state in NEVER_SENT:  # a second request of the record, never sent: withdrawn (the relay logs it)
            state, error = WITHDRAWING, f"withdrawn, not sent: a duplicate of {holder.request_id} (one agreement)"
        elif holder.state in NEVER_SENT:  # this one a court has: it is the agreement's request, the other goes
            conn.execute(
                confirmation_requests.update()
                .where(confirmation_requests.c.request_id == holder.request_id)
                .values(
                    agreement_key=f"{key}|{holder.request_id}",
                    state=WITHDRAWING,
                    last_error=f"withdrawn, not sent: a duplicate of {request['request_id']} (one agreement)",
                )
            )
            request = {**request, "agreement_key": key}
    row = {
        **request_row(request, state),
        "attempts": entry["attempts"],
        "delivered_at": entry.get("delivered_at"),
        "last_error": error,
    }
    this = confirmation_requests.c.request_id == row["request_id"]
    exists = conn.execute(sa.select(confirmation_requests.c.request_id).where(this)).first()
    if exists:
        conn.execute(
            confirmation_requests.update()
            .where(this)
            .values(attempts=row["attempts"], delivered_at=row["delivered_at"])
        )
        # the sink's newer judgement wins over a pass that read the request before it: a withdrawal over a
        # not-sent outcome, a reinstatement over a withdrawal (DELIVERED and REFUSED always apply: they happened)
        blocker = WITHDRAWING if row["state"] in NEVER_SENT else REINSTATED if row["state"] == WITHDRAWN else None
        guard = this if blocker is None else sa.and_(this, confirmation_requests.c.state != blocker)
        conn.execute(
            confirmation_requests.update().where(guard).values(state=row["state"], last_error=row["last_error"])
        )
    else:
        conn.execute(confirmation_requests.insert().values(row))
    if row["state"] == WITHDRAWN and conn.execute(sa.select(confirmation_requests.c.state).where(this)).scalar() == (
        WITHDRAWN
    ):  # its deadline alerts were about a request that will not be sent: the view no longer shows them
        conn.execute(alerts.delete().where(alerts.c.alert_id.startswith(row["request_id"] + ":", autoescape=True)))
    have = set(
        conn.execute(
            sa.select(confirmation_deliveries.c.attempt).where(
                confirmation_deliveries.c.request_id == request["request_id"]
            )
        ).scalars()
    )
    new = [{**d, "request_id": request["request_id"]} for d in entry.get("deliveries", []) if d["attempt"] not in have]
    if new:
        conn.execute(confirmation_deliveries.insert(), new)


ALERT_COLUMNS = ("alert_id", "kind", "severity", "case_id", "raised_at", "due", "message", "deadline_kind")


def add_alerts(conn: sa.Connection, items: list[dict]) -> int:
    """Alerts (cn.casehub.Alert dicts) not stored yet."""
    if not items:
        return 0
    have = set(
        conn.execute(
            sa.select(alerts.c.alert_id).where(alerts.c.alert_id.in_([a["alert_id"] for a in items]))
        ).scalars()
    )
    # a withdrawn request's alerts are not the view's (a rebuild reads the alerts after the log that withdrew it)
    asked = {a["alert_id"].split(":")[0] for a in items}
    withdrawn = set(
        conn.execute(
            sa.select(confirmation_requests.c.request_id).where(
                confirmation_requests.c.request_id.in_(asked), confirmation_requests.c.state == WITHDRAWN
            )
        ).scalars()
    )
    rows = [
        {k: a.get(k) for k in ALERT_COLUMNS}
        for a in items
        if a["alert_id"] not in have and a["alert_id"].split(":")[0] not in withdrawn
    ]
    if rows:
        conn.execute(alerts.insert(), rows)
    return len(rows)


def add_answer(conn: sa.Connection, response: dict) -> bool:
    """A court's answer (cn.casehub.ConfirmationResponse) into the store; False if that answer was stored before."""
    exists = conn.execute(
        sa.select(court_answers.c.request_id).where(
            court_answers.c.request_id == response["request_id"], court_answers.c.outcome == response["outcome"]
        )
    ).first()
    if exists:
        return False
    conn.execute(
        court_answers.insert().values(
            request_id=response["request_id"],
            outcome=response["outcome"],
            court_case_number=response.get("court_case_number"),
            decided_at=response["decided_at"],
            reason=response.get("reason"),
        )
    )
    # the furthest answer wins, whatever order the answers were stored in (live or rebuilt)
    answers = conn.execute(
        sa.select(court_answers.c.outcome, court_answers.c.court_case_number).where(
            court_answers.c.request_id == response["request_id"]
        )
    ).all()
    update = {"court_outcome": max((a.outcome for a in answers), key=lambda o: (ANSWER_RANK.get(o, 0), o))}
    numbers = sorted(a.court_case_number for a in answers if a.court_case_number)
    if numbers:
        update["court_case_number"] = numbers[0]
    where = confirmation_requests.c.request_id == response["request_id"]
    conn.execute(confirmation_requests.update().where(where).values(update))
    return True


def live_records(engine: sa.Engine) -> dict[str, dict]:
    """Every case record in the view that is not a redirect, by case id (JSON-decoded)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(cases.c.case_id, cases.c.record).where(cases.c.merged_into.is_(None))).all()
    return {case_id: json.loads(record) for case_id, record in rows}
