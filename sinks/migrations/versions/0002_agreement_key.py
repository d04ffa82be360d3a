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


def _key(key: str, number: str | None) -> str:
    # as casehub.domain.confirmation.current_agreement_key (a migration keeps its own copy: it must not change)
    tail = "|" + (number or "")
    return key[: -len(tail)] if key.count("|") >= 2 and key.endswith(tail) else key


def upgrade() -> None:
    conn = op.get_bind()
    requests = sa.table(
        "confirmation_requests", sa.column("request_id"), sa.column("agreement_key"), sa.column("request")
    )
    rows = conn.execute(sa.select(requests.c.request_id, requests.c.agreement_key, requests.c.request)).all()
    taken = {key for _, key, _ in rows}
    for rid, key, body in sorted(rows, key=lambda r: r[0]):
        request = json.loads(body)
        new = _key(key, (request.get("agreement") or {}).get("number"))
        if new != key and new not in taken:  # a second request of one record (the old fault) keeps its own key
            taken.add(new)
            request["agreement_key"] = new  # the stored body as the view writes it (sorted keys, UTF-8 text)
            text = json.dumps(request, ensure_ascii=False, sort_keys=True)
            conn.execute(requests.update().where(requests.c.request_id == rid).values(agreement_key=new, request=text))
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
