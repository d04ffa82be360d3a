"""Writes the four synthetic agency databases (SQLite) and ground_truth.json from one seeded set of journeys."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa

from casehub.connectors.samples import arbitration_db, court_db, inspection_db, mediation_db
from casehub.connectors.samples.bad_rows import inject_bad_rows  # noqa: F401  (part of this module's interface)
from casehub.connectors.samples.expected import expected
from casehub.connectors.samples.journeys import generate
from casehub.connectors.samples.numbering import SHANGHAI
from casehub.connectors.samples.rosters import write_reference

MODULES = (mediation_db, arbitration_db, court_db, inspection_db)
GROUND_TRUTH = "ground_truth.json"


def db_path(out_dir: Path, system: str) -> Path:
    return Path(out_dir) / f"{system}.db"


def engine_for(out_dir: Path, system: str) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{db_path(out_dir, system)}")


def create_sample_databases(out_dir: Path, cases: int, seed: int = 7, today: dt.date | None = None) -> dict:
    """Create mediation.db, arbitration.db, court.db, inspection.db and ground_truth.json in out_dir.

    Existing files of those names are DELETED and recreated (never appended to), so calling this twice
    leaves exactly one copy of every row. Same (cases, seed, today): same content. `today` (default: the date in
    China now) dates the recent agreements that are still waiting for an application for judicial confirmation.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    today = today or dt.datetime.now(SHANGHAI).date()
    journeys = generate(cases, seed, today)
    truth = {
        c.key: {
            "expected": expected(c, today),
            "case_key": c.key,
            "kind": c.kind,
            "category": c.category,
            "migrant": c.migrant,
            "worker_count": len(c.workers),
            "worker_id_numbers": [w.id_number for w in c.workers],
            "employer_credit_code": c.employer.credit_code,
            "case_numbers": [{"system": p.agency, "number": p.number} for p in c.proceedings if p.number],
            "records": [],
        }
        for c in journeys
    }
    summary = {
        "out_dir": str(out_dir),
        "cases": cases,
        "seed": seed,
        "today": today.isoformat(),
        "paths": {},
        "rows": {},
    }
    for module in MODULES:
        tables, owners = module.rows(journeys)
        path = db_path(out_dir, module.SYSTEM)
        path.unlink(missing_ok=True)
        engine = engine_for(out_dir, module.SYSTEM)
        module.metadata.create_all(engine)
        with engine.begin() as conn:
            for name, table_rows in tables.items():
                if table_rows:
                    conn.execute(module.metadata.tables[name].insert(), table_rows)  # executemany
        engine.dispose()
        for case_key, record_id in owners:
            truth[case_key]["records"].append(
                {"system": module.SYSTEM, "table": module.MAIN.name, "record_id": record_id}
            )
        summary["paths"][module.SYSTEM] = str(path)
        summary["rows"][module.SYSTEM] = {name: len(table_rows) for name, table_rows in tables.items()}
    truth_path = out_dir / GROUND_TRUTH
    truth_path.write_text(json.dumps(list(truth.values()), ensure_ascii=False, indent=1), encoding="utf-8")
    summary["paths"]["ground_truth"] = str(truth_path)
    summary["paths"].update({k: str(v) for k, v in write_reference(out_dir, journeys).items()})
    return summary
