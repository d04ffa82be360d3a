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


def test_dry_run_over_the_trial_rows_shows_one_clear_error_per_bad_row(tmp_path):
    """Issue 10, "done when": the rows of items 1-3 (and 5) in the sample databases; the valid ID of a worker born
    before his county's code and the GB 18030 name map, each bad row is one error line, and nothing crashes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEHUB_")}
    env.update(CASEHUB_HOME=str(tmp_path), CASEHUB_KAFKA_BOOTSTRAP="127.0.0.1:1")
    assert run(env, "sample", "--cases", "6").returncode == 0
    with sqlite3.connect(tmp_path / "sample" / "mediation.db") as conn:
        first, second, third = [r[0] for r in conn.execute("SELECT ajid FROM tj_ajxx ORDER BY gxsj, ajid LIMIT 3")]
        conn.execute("UPDATE tj_ajxx SET sqr_sfzh = '210102198212312932' WHERE ajid = ?", (first,))  # item 1
        conn.execute("UPDATE tj_ajxx SET sqr_xm = CAST(X'D5C5C8FD' AS TEXT) WHERE ajid = ?", (second,))  # item 3
        conn.execute("UPDATE tj_ajxx SET qqje = '12345.678' WHERE ajid = ?", (third,))  # item 5
    with sqlite3.connect(tmp_path / "sample" / "court.db") as conn:
        (court_id,) = conn.execute("SELECT AJID FROM AJ_JBXX ORDER BY XGSJ, AJID LIMIT 1").fetchone()
        conn.execute("UPDATE AJ_JBXX SET YG_MC = ? WHERE AJID = ?", ("刘䶮".encode("gb18030"), court_id))  # item 2
    out = run(env, "connect", "--dry-run", "--source", "mediation", "--source", "court", "--limit", "50")
    assert "Traceback" not in out.stderr + out.stdout, out.stderr
    assert out.returncode == 1, out.stderr
    errors = [line for line in out.stdout.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 2, out.stdout
    assert f"mediation record {second} " in errors[0] and "field sqr_xm" in errors[0] and "[BAD_ENCODING]" in errors[0]
    assert f"mediation record {third} " in errors[1] and "field qqje" in errors[1] and "finer than one fen" in errors[1]
    assert f"OK    mediation record {first} " in out.stdout
    assert f"OK    court record {court_id} " in out.stdout
