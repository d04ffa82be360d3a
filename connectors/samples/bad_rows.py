"""Deliberately bad rows appended on request to sample databases, for connector dead-letter tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from stdnum.cn import ric

from casehub.connectors.samples import arbitration_db, court_db, mediation_db

OVERSIZED = "某" * 10_000


def wrong_check_digit(number: str) -> str:
    right = ric.calc_check_digit(number[:17] + "0")
    return number[:17] + next(c for c in "0123456789X" if c != right)


def text_clock(fmt: str):
    """Cursor step for local-time text cursors: i minutes after the newest value, same format."""
    return lambda top, i: (dt.datetime.strptime(top, fmt) + dt.timedelta(minutes=i)).strftime(fmt)


def _append(out_dir: Path, module, pk: str, cursor: str, step, mutations: list[tuple]) -> list[dict]:
    """Copy the first (good) row once per mutation, apply it, give it a fresh key and a cursor after every other row."""
    engine = sa.create_engine(f"sqlite:///{Path(out_dir) / (module.SYSTEM + '.db')}")
    table, out = module.MAIN, []
    with engine.begin() as conn:
        template = dict(conn.execute(sa.select(table).order_by(table.c[pk]).limit(1)).mappings().one())
        top = conn.execute(sa.select(sa.func.max(table.c[cursor]))).scalar_one()
        next_id = conn.execute(sa.select(sa.func.max(table.c[pk]))).scalar_one() + 1
        for i, (field, value, problem) in enumerate(mutations, 1):
            value = value(template) if callable(value) else value
            conn.execute(table.insert(), [{**template, pk: next_id, cursor: step(top, i), field: value}])
            out.append(
                {
                    "system": module.SYSTEM,
                    "table": table.name,
                    "record_id": str(next_id),
                    "field": field,
                    "problem": problem,
                }
            )
            next_id += 1
    engine.dispose()
    return out


def inject_bad_rows(out_dir: Path) -> list[dict]:
    """Append one bad row per problem (newest cursor values, so incremental reads see them); returns
    [{system, table, record_id, field, problem}]. These rows are NOT in ground_truth.json. Each call appends again."""
    rows = _append(
        out_dir,
        mediation_db,
        "ajid",
        "gxsj",
        text_clock("%Y-%m-%d %H:%M:%S"),
        [
            ("zt", "99", "unknown status code"),
            ("sqsj", "2024/02/30 上午", "unparseable date"),
            ("sqr_sfzh", lambda t: wrong_check_digit(t["sqr_sfzh"]), "invalid ID check digit"),
            ("bsqr_mc", OVERSIZED, "oversized field (10,000 characters)"),
            ("sqr_xm", None, "NULL required field"),
        ],
    )
    rows += _append(
        out_dir,
        arbitration_db,
        "id",
        "updated_at",
        lambda top, i: top + 60_000 * i,
        [
            ("status", 42, "unknown status code"),
            ("applied_at", "2024-02-30", "unparseable date"),  # text in an INTEGER column: SQLite keeps it
            ("claimant_id_no", lambda t: wrong_check_digit(t["claimant_id_no"]), "invalid ID check digit"),
            ("respondent_name", OVERSIZED, "oversized field (10,000 characters)"),
            ("claimant_name", None, "NULL required field"),
        ],
    )
    rows += _append(
        out_dir,
        court_db,
        "AJID",
        "XGSJ",
        text_clock("%Y%m%d%H%M%S"),
        [
            ("YG_MC", b"\xff\xfe\x81\x7f", "undecodable bytes in a GBK column"),
        ],
    )
    return rows
