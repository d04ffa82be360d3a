"""Revision 0002: an agreement is its source record (`system|record_id`), no longer its record and number, so a
corrected agreement number keeps the agreement's one confirmation request. Stored keys lose their number; request
ids (the idempotency keys courts have seen) stay as they are.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 16:30:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


NEVER_SENT = ("PENDING", "WAITING_IDENTITY", "EXPIRED", "REINSTATED")


def _key(key: str, number: str | None) -> str:
    # as casehub.domain.confirmation.current_agreement_key (a migration keeps its own copy: it must not change)
    tail = "|" + (number or "")
    return key[: -len(tail)] if key.count("|") >= 2 and key.endswith(tail) else key


def upgrade() -> None:
    conn = op.get_bind()
    requests = sa.table(
        "confirmation_requests",
        sa.column("request_id"),
        sa.column("agreement_key"),
        sa.column("request"),
        sa.column("state"),
        sa.column("created_at"),
        sa.column("last_error"),
    )
    rows = conn.execute(sa.select(requests)).all()
    taken = {r.agreement_key for r in rows}
    # the one request an agreement keeps: one a court has (or refused) before one never sent, then the oldest; a
    # second request of the same record (the fault this revision ends) keeps its own key and, if never sent, is
    # withdrawn (the relay logs it): one agreement, one application
    sent = ("DELIVERED", "REFUSED")
    for r in sorted(rows, key=lambda r: (r.state not in sent, str(r.created_at), r.request_id)):
        request = json.loads(r.request)
        new = _key(r.agreement_key, (request.get("agreement") or {}).get("number"))
        if new == r.agreement_key:
            continue
        if new not in taken:
            taken.add(new)
            request["agreement_key"] = new  # the stored body as the view writes it (sorted keys, UTF-8 text)
            text = json.dumps(request, ensure_ascii=False, sort_keys=True)
            conn.execute(
                requests.update().where(requests.c.request_id == r.request_id).values(agreement_key=new, request=text)
            )
        elif r.state in NEVER_SENT:
            holder = conn.execute(sa.select(requests.c.request_id).where(requests.c.agreement_key == new)).scalar()
            conn.execute(
                requests.update()
                .where(requests.c.request_id == r.request_id)
                .values(state="WITHDRAWING", last_error=f"withdrawn, not sent: a duplicate of {holder} (one agreement)")
            )
    agreements = sa.table(
        "case_agreements", sa.column("case_id"), sa.column("seq"), sa.column("agreement_key"), sa.column("number")
    )
    for cid, seq, key, number in conn.execute(
        sa.select(agreements.c.case_id, agreements.c.seq, agreements.c.agreement_key, agreements.c.number)
    ):
        if _key(key, number) != key:
            conn.execute(
                agreements.update()
                .where(agreements.c.case_id == cid, agreements.c.seq == seq)
                .values(agreement_key=_key(key, number))
            )


def downgrade() -> None:
    raise NotImplementedError("the keys' numbers are not kept: restore a backup or run `casehub rebuild-view`")
