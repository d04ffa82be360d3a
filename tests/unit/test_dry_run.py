"""`casehub connect --dry-run` shows how rows map and every error, without a broker."""

import json
import os
import sqlite3
import subprocess
import sys


def run(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "casehub", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_dry_run_shows_mapping_and_errors_with_field(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEHUB_")}
    env.update(CASEHUB_HOME=str(tmp_path), CASEHUB_KAFKA_BOOTSTRAP="127.0.0.1:1")  # a dry run must not need Kafka
    assert run(env, "sample", "--cases", "3").returncode == 0
    db = tmp_path / "sample" / "mediation.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE tj_ajxx SET zt = '99' WHERE ajid = 2")
    out = run(env, "connect", "--dry-run", "--source", "mediation", "--limit", "10")
    assert out.returncode == 1, out.stderr
    assert (
        "ERROR mediation record 2" in out.stdout
        and "field zt: unknown code '99'" in out.stdout
        and "[UNKNOWN_CODE]" in out.stdout
    )
    assert "3 rows mapped: 2 ok, 1 would go to the dead-letter topic" in out.stdout
    report = json.loads(run(env, "connect", "--dry-run", "--source", "mediation", "--json").stdout)
    assert [line["ok"] for line in sorted(report, key=lambda entry: entry["record_id"])] == [True, False, True]
    with sqlite3.connect(db) as conn:
        id_numbers = [r[0] for r in conn.execute("SELECT sqr_sfzh FROM tj_ajxx")]
    assert not any(n in out.stdout for n in id_numbers)  # the shown row is masked


def test_dry_run_names_a_missing_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEHUB_")}
    env.update(CASEHUB_HOME=str(tmp_path))
    out = run(env, "connect", "--dry-run", "--source", "arbitration")
    assert out.returncode == 2 and "CASEHUB_ARBITRATION_DB_URL" in out.stderr
