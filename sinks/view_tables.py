"""The case view's tables (SQLAlchemy 2.x Core). Changed only through a migration (sinks/migrations/versions):
`tests/unit/test_case_view.py::test_the_migrated_schema_is_the_declared_one` fails when these tables and the migrated
schema differ.

One row per case (the latest accepted version; a merged-away id keeps a row with `merged_into`), and its parts in
child tables replaced whole with each accepted version: stages, timeline events, parties (masked forms only, never
a hash or a full identity), claims, links with their reasons, deadlines, agreements, references. Confirmation
requests (the outbox, written in the view's transaction), their deliveries, alerts, court callbacks and the roster
are kept beside them.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
TS = sa.DateTime(timezone=True)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("case_id", sa.String(40), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("stage", sa.String(40), nullable=False),
    sa.Column("status", sa.String(120), nullable=False),
    sa.Column("merged_into", sa.String(40)),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("closed_at", TS),
    sa.Column("division_code", sa.String(12)),
    sa.Column("organisation", sa.String(200)),  # the first mediation organisation, for the list's filter
    sa.Column("group_dispute", sa.Boolean, nullable=False),
    sa.Column("worker_count", sa.Integer),
    sa.Column("migrant_worker", sa.Boolean, nullable=False),
    sa.Column("dispatched_worker", sa.Boolean, nullable=False),
    sa.Column("new_employment_form", sa.Boolean, nullable=False),
    sa.Column("mediated_before_arbitration", sa.Boolean, nullable=False),
    sa.Column("resolved_by_negotiation_or_mediation", sa.Boolean, nullable=False),
    sa.Column("overdue", sa.Boolean, nullable=False),
    sa.Column("claimed_fen", sa.BigInteger),
    sa.Column("agreed_fen", sa.BigInteger),
    sa.Column("awarded_fen", sa.BigInteger),
    sa.Column("paid_fen", sa.BigInteger),
    sa.Column("confirmation_state", sa.String(30)),
    sa.Column("record", sa.Text, nullable=False),  # the whole CaseRecord as JSON
    sa.Index("ix_cases_updated", "updated_at"),
    sa.Index("ix_cases_stage", "stage"),
)


def _child(name: str, *columns: sa.Column) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("case_id", sa.String(40), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        *columns,
    )


case_stages = _child(
    "case_stages",
    sa.Column("stage", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("agency_kind", sa.String(20), nullable=False),
    sa.Column("system", sa.String(100), nullable=False),
    sa.Column("record_id", sa.String(200), nullable=False),
    sa.Column("case_number", sa.String(200)),
    sa.Column("organisation", sa.String(200)),
    sa.Column("division_code", sa.String(12)),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("ended_at", TS),
    sa.Column("status", sa.String(80), nullable=False),
    sa.Column("outcome", sa.String(120)),
    sa.Column("attached", sa.Boolean, nullable=False),
)
case_events = _child(
    "case_events",
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("agency_kind", sa.String(20), nullable=False),
    sa.Column("event_type", sa.String(60), nullable=False),
    sa.Column("occurred_at", TS, nullable=False),
    sa.Column("source_system", sa.String(100), nullable=False),
    sa.Column("record_id", sa.String(200), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("case_number", sa.String(200)),
    sa.Column("stage_kind", sa.String(40)),
    sa.Column("attached", sa.Boolean, nullable=False),
)
case_parties = _child(
    "case_parties",
    sa.Column("role", sa.String(30), nullable=False),
    sa.Column("party_type", sa.String(20), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("name_key", sa.String(200), nullable=False),  # normalised, for the search
    sa.Column("id_masked", sa.String(40)),
    sa.Column("phone_masked", sa.String(40)),
    sa.Column("credit_code", sa.String(40)),
    sa.Column("division_code", sa.String(12)),
    sa.Column("migrant_worker", sa.Boolean, nullable=False),
    sa.Column("dispatched_worker", sa.Boolean, nullable=False),
    sa.Column("new_employment_form", sa.Boolean, nullable=False),
)
case_claims = _child(
    "case_claims",
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("amount_fen", sa.BigInteger),
    sa.Column("description", sa.Text),
)
case_links = _child(
    "case_links",
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("rule", sa.String(30), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("matched", sa.Text, nullable=False),  # JSON list of the matched values (masked)
    sa.Column("window_days", sa.Integer),
    sa.Column("other_event_id", sa.String(200)),
    sa.Column("correction_id", sa.String(100)),
    sa.Column("linked_at", TS),
)
case_deadlines = _child(
    "case_deadlines",
    sa.Column("kind", sa.String(60), nullable=False),
    sa.Column("due", sa.Date, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("basis", sa.Text, nullable=False),
    sa.Column("start_date", sa.Date),
    sa.Column("event_id", sa.String(200)),
    sa.Column("working_days", sa.Boolean, nullable=False),
    sa.Column("extended_days", sa.Integer),
    sa.Column("note", sa.Text),
)
case_agreements = _child(
    "case_agreements",
    sa.Column("agreement_key", sa.String(400), nullable=False),
    sa.Column("number", sa.String(200)),
    sa.Column("agreement_kind", sa.String(40), nullable=False),
    sa.Column("signed_at", TS),
    sa.Column("effective_date", sa.Date),
    sa.Column("amount_fen", sa.BigInteger),
    sa.Column("consent_worker", sa.Boolean, nullable=False),
    sa.Column("consent_employer", sa.Boolean, nullable=False),
    sa.Column("organisation", sa.String(200)),
    sa.Column("performance", sa.String(20), nullable=False),
    sa.Column("performed_at", TS),
    sa.Column("defaulted_at", TS),
    sa.Column("followed_by", sa.Text, nullable=False),  # JSON list
    sa.Column("confirmation_decision", sa.String(20), nullable=False),  # REQUEST or why not (NO_CONSENT, ...)
    sa.Column("decision_reason", sa.Text, nullable=False),
    sa.Column("request_id", sa.String(40)),
)
case_refs = sa.Table(
    "case_refs",
    metadata,
    sa.Column("case_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("system", sa.String(100), primary_key=True),
    sa.Column("number", sa.String(200), primary_key=True),
    sa.Column("normalised", sa.String(200), nullable=False),
    sa.Index("ix_case_refs_normalised", "normalised"),
)
# The outbox: one row per agreement ever found eligible, written in the transaction that stored the case version.
confirmation_requests = sa.Table(
    "confirmation_requests",
    metadata,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("agreement_key", sa.String(400), nullable=False, unique=True),
    sa.Column("case_id", sa.String(40), nullable=False),
    sa.Column("court_code", sa.String(20), nullable=False),
    sa.Column("court_name", sa.String(200), nullable=False),
    sa.Column("deadline", sa.Date, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    # PENDING (to deliver) | DELIVERED | EXPIRED (past its deadline: flagged, never sent) | WAITING_IDENTITY
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("route", sa.Text, nullable=False),
    sa.Column("request", sa.Text, nullable=False),  # the request without identities (JSON)
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("delivered_at", TS),
    sa.Column("last_error", sa.Text),
    sa.Column("court_outcome", sa.String(20)),  # the court's latest answer
    sa.Column("court_case_number", sa.String(200)),
    sa.Index("ix_confirmation_requests_state", "state"),
)
confirmation_deliveries = sa.Table(
    "confirmation_deliveries",
    metadata,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("at", TS, nullable=False),
    sa.Column("outcome", sa.String(30), nullable=False),  # DELIVERED | DUPLICATE | HTTP_503 | TIMEOUT | EXPIRED | ...
    sa.Column("status_code", sa.Integer),
    sa.Column("detail", sa.Text),
)
court_answers = sa.Table(  # every court answer accepted by the callback endpoint: the replay guard
    "court_answers",
    metadata,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("outcome", sa.String(20), primary_key=True),
    sa.Column("court_case_number", sa.String(200)),
    sa.Column("decided_at", TS, nullable=False),
    sa.Column("reason", sa.Text),
)
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("alert_id", sa.String(120), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("case_id", sa.String(40)),
    sa.Column("raised_at", TS, nullable=False),
    sa.Column("due", sa.Date),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("deadline_kind", sa.String(60)),
)
organisations = sa.Table(
    "organisations",
    metadata,
    sa.Column("code", sa.String(60), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("name_key", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("division_code", sa.String(12)),
    sa.Column("lawfully_established", sa.Boolean, nullable=False),
    sa.Column("credit_code", sa.String(40)),
    sa.Column("contact", sa.String(200)),
)
mediators = sa.Table(
    "mediators",
    metadata,
    sa.Column("code", sa.String(60), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("organisation", sa.String(60), nullable=False),
)
# What the view was last judged with: `reference` holds a fingerprint of the roster and court directory, so a sink
# that starts (or sees the files change) with other reference data judges the stored agreements again
view_meta = sa.Table(
    "view_meta",
    metadata,
    sa.Column("name", sa.String(60), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
CHILDREN = (case_stages, case_events, case_parties, case_claims, case_links, case_deadlines, case_agreements, case_refs)
# What `casehub rebuild-view` must reproduce (the comparison test reads these)
CONTENT = (
    cases,
    *CHILDREN,
    confirmation_requests,
    confirmation_deliveries,
    court_answers,
    alerts,
    organisations,
    mediators,
)
