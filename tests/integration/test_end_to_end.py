"""The walking skeleton, whole: `casehub up` against the session broker, a row in the mediation database, the case in
the view."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from casehub.connectors.sample import make_id_number, make_phone
from casehub.run.broker import _pid_alive
from tests.support.hub import (
    BOUND,
    MAIN_TABLES,
    count,
    environment_of,
    home_secrets,
    hub_env,
    leaks_in_files,
    leaks_in_topics,
    list_topics,
    start_up,
    stop_up,
    transitions,
    truth_cases,
    view_rows,
    wait_for,
    wait_running,
)
from tests.support.kafka import read_topic

# what travels only on the restricted identity topic: IDs, phones, and the addresses mapped with them (a legal
# representative is restricted too, but a name may also be a worker's, whose name travels in clear)
IDENTITY_COLUMNS = [
    ("mediation", "tj_ajxx", ["sqr_sfzh", "sqr_sjh", "sqr_zz", "bsqr_zs"]),
    ("arbitration", "arb_case", ["claimant_id_no", "claimant_phone", "claimant_address"]),
    ("arbitration", "arb_case_party", ["id_no", "phone"]),
    ("court", "AJ_JBXX", ["YG_ZJHM", "YG_LXDH"]),
    ("inspection", "complaints", ["complainant_idcard", "complainantMobile", "employerAddress"]),
]


def sample_identities(sample_dir: str) -> set[str]:
    found = set()
    for name, table, columns in IDENTITY_COLUMNS:
        with sqlite3.connect(os.path.join(sample_dir, f"{name}.db")) as conn:
            for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table}"):
                found.update(v for v in row if v)
    assert len(found) > 10
    return found


@pytest.fixture
def hub(kafka_bootstrap, prefix, tmp_path):
    env = hub_env(kafka_bootstrap, prefix, tmp_path / "home")
    log = tmp_path / "up.log"
    proc = start_up(env, log)
    try:
        yield proc, env, wait_running(env, proc, log), log
    finally:
        stop_up(proc)  # a failed test: stop the hub the way a user would


def test_agency_rows_reach_case_view_and_ctrl_c_stops_everything(hub, kafka_bootstrap, prefix):
    proc, env, status, log = hub
    for key in ("kafka_bootstrap", "schema_registry_url", "web_url", "case_view_url", "sample_dir"):
        assert status[key], key
    assert status["kafka_bootstrap"] == kafka_bootstrap
    assert set(status["components"]) >= {"registry", "worker", "sink", "web", "connect", "kafka"}
    db = status["case_view_url"].removeprefix("sqlite:///")
    sample_db = os.path.join(status["sample_dir"], "mediation.db")

    # every status change of the four sample agency databases becomes one timeline entry in the case view, and
    # the view has exactly the ground truth's cases, each with a stage at every agency it crossed
    sample_rows = transitions(status["sample_dir"])
    truth = truth_cases(status["sample_dir"])
    assert sample_rows >= 5

    def all_events_in_view():
        rows = view_rows(db, "SELECT count(DISTINCT event_id) FROM case_events")
        live = view_rows(db, "SELECT count(*) FROM cases WHERE merged_into IS NULL")
        return rows and rows[0][0] == sample_rows and live[0][0] == len(truth)

    wait_for(all_events_in_view, f"{sample_rows} sample events in {len(truth)} cases in the view", proc=proc, log=log)
    systems = {
        "mediation": "ln-mediation-platform",
        "arbitration": "ln-arbitration",
        "court": "ln-court",
        "inspection": "ln-labour-inspection",
    }
    for case in truth:
        first = case["records"][0]
        record = view_rows(
            db,
            "SELECT c.record FROM cases c JOIN case_events e ON e.case_id = c.case_id "
            "WHERE e.source_system = ? AND e.record_id = ? AND c.merged_into IS NULL LIMIT 1",
            systems[first["system"]],
            first["record_id"],
        )[0][0]
        stages = {s["agency_kind"].lower() for s in json.loads(record)["stages"]}
        assert stages == set(case["expected"]["stages"]), (case["case_key"], case["kind"], stages)
    agencies = {r[0] for r in view_rows(db, "SELECT DISTINCT agency_kind FROM case_events")}
    with urllib.request.urlopen(status["connector_metrics_url"], timeout=10) as resp:
        metrics = resp.read().decode()
    assert 'casehub_connector_events_total{connector="court"}' in metrics
    present = {
        name.upper()
        for name, table in MAIN_TABLES.items()
        if count(os.path.join(status["sample_dir"], f"{name}.db"), table)
    }
    assert agencies == present and len(present) >= 3

    # a new row in the agency database
    id_number, phone = make_id_number(__import__("random").Random(99)), make_phone(__import__("random").Random(99))
    with sqlite3.connect(sample_db) as conn:
        conn.execute(
            "INSERT INTO tj_ajxx (ajid, ajbh, zt, sqr_xm, sqr_sfzh, sqr_sjh, bsqr_mc, tjzz_mc, tjzz_lx, xzqh, qqlx, "
            "qqje, nmg, sqsj, gxsj) "
            "VALUES (1001, '沈和调〔2026〕9001号', '10', '赵敏', ?, ?, '沈阳华锐建筑工程有限公司', "
            "'和平区劳动人事争议调解中心', '02', '210102', "
            "'GZ', '8600.50', '1', '2026-11-01 09:00:00', '2026-11-01 09:00:00')",
            (id_number, phone),
        )
    rows = wait_for(
        lambda: view_rows(
            db,
            "SELECT c.case_id, c.stage, c.status, c.record FROM cases c JOIN case_refs r ON r.case_id = c.case_id "
            "WHERE r.number = ?",
            "沈和调〔2026〕9001号",
        ),
        "the new case in the view",
        proc=proc,
        log=log,
    )
    case_id, stage, state, record = rows[0]
    assert (stage, state) == ("MEDIATION", "MEDIATION:APPLIED")
    record = json.loads(record)
    worker = next(p for p in record["parties"] if p["role"] == "WORKER")
    assert worker["name"] == "赵敏" and worker["migrant_worker"] is True
    assert worker["id_masked"] == id_number[:4] + "*" * 10 + id_number[-4:]
    assert record["claims"][0]["amount"]["amount_fen"] == 860050

    # a message that is not casehub Avro goes to the dead-letter topic with the reason; the pipeline carries on
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(f"{prefix}casehub.mediation.events", key=b"junk", value=b"\x07not avro at all")
    assert producer.flush(30) == 0

    def dead_letter_seen():
        from casehub.schemas.codec import AvroCodec
        from casehub.schemas.registry.client import RegistryClient

        codec = AvroCodec(RegistryClient(status["schema_registry_url"]), prefix=prefix)
        letters = [
            codec.decode(m.value) for m in asyncio.run(read_topic(kafka_bootstrap, f"{prefix}casehub.deadletter"))
        ]
        return [d for d in letters if d["stage"] == "streams:link"]

    letter = wait_for(dead_letter_seen, "the junk message in the dead-letter topic", proc=proc, log=log)[0]
    assert letter["error_kind"] == "DECODE_ERROR" and "magic byte 7" in letter["reason"]
    assert letter["topic"] == f"{prefix}casehub.mediation.events" and letter["payload"] == b"\x07not avro at all"

    # the agency updates the row: a new event, the same case, a new version
    with sqlite3.connect(sample_db) as conn:
        conn.execute("UPDATE tj_ajxx SET zt = '20', gxsj = '2026-11-02 10:00:00' WHERE ajid = 1001")
    wait_for(
        lambda: view_rows(db, "SELECT version FROM cases WHERE case_id = ? AND version = 2", case_id),
        "version 2 of the case",
        proc=proc,
        log=log,
    )
    assert [
        r[0]
        for r in view_rows(db, "SELECT event_type FROM case_events WHERE case_id = ? ORDER BY occurred_at", case_id)
    ] == ["APPLIED", "ACCEPTED"]

    # privacy: no resident ID or phone number of any sample person is in clear on any topic but the restricted one
    secrets = sample_identities(status["sample_dir"]) | {id_number, phone}
    topics = [
        t
        for t in asyncio.run(list_topics(kafka_bootstrap))
        if t.startswith(prefix) and not t.endswith("identities.restricted")
    ]
    assert f"{prefix}casehub.court.events" in topics and f"{prefix}casehub.cases" in topics
    for topic in topics:
        for message in asyncio.run(read_topic(kafka_bootstrap, topic)):
            blob = (message.key or b"") + (message.value or b"")
            leaked = [s for s in secrets if s.encode() in blob]
            assert not leaked, f"{topic} carries identities in clear"
    # the identity travels in clear only on the restricted topic
    restricted = [m.value for m in asyncio.run(read_topic(kafka_bootstrap, f"{prefix}casehub.identities.restricted"))]
    assert any(id_number.encode() in v for v in restricted)

    # the web view and its API need a token; `casehub up` printed a sign-in link holding the operator token
    home = Path(env["CASEHUB_HOME"])
    generated = home_secrets(home)
    assert set(generated) == {"hmac_secret", "operator_token", "registry_credentials", "courts"}
    # the sample courts' file holds a token and a signing secret per court: each one is a secret to look for
    courts = tomllib.loads(generated.pop("courts"))
    generated.update({f"court {kind} {code}": v for kind in ("tokens", "secrets") for code, v in courts[kind].items()})
    assert len(generated) > 3
    token = generated["operator_token"]
    link = f"{status['web_url']}/signin?token={token}"
    assert link in log.read_text()
    for path in ("/", "/api/cases", f"/api/cases/{case_id}"):
        try:
            urllib.request.urlopen(status["web_url"] + path, timeout=10)
            raise AssertionError(f"{path} answered without a token")
        except urllib.error.HTTPError as err:
            assert err.code == 401, path
    signed_in = urllib.request.Request(f"{status['web_url']}/api/cases/{case_id}")
    signed_in.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(signed_in, timeout=10) as resp:
        shown = resp.read().decode()
    assert "_hash" not in shown and worker["id_masked"] in shown and worker["id_hash"] not in shown
    assert "sample secret" in (home / "logs" / "connect.log").read_text()  # the warning is in a log, not a terminal

    # secrets reach only the processes that use them, and appear in no log and no topic of the run
    for name, component in status["components"].items():
        if name == "kafka":
            continue
        child = environment_of(component["pid"])
        held = {s for s, value in generated.items() if value in child.values()}
        assert held == ({"registry_credentials"} if name == "registry" else set()), name
        assert "CASEHUB_HMAC_SECRET" not in child, name  # the sample hub's key stays in its 0600 file
    logs = sorted((home / "logs").glob("*.log"))
    assert {p.stem for p in logs} >= {"registry", "worker", "sink", "web", "connect"}
    assert leaks_in_files(generated, [log]) == ["operator_token in up.log"]  # the check sees the sign-in line
    up_lines = [line for line in log.read_text().splitlines() if token not in line or "sign in" not in line]
    (home / "up-without-sign-in.log").write_text("\n".join(up_lines))
    assert not leaks_in_files(generated, [*logs, home / "up-without-sign-in.log"])
    assert not leaks_in_topics(generated, kafka_bootstrap, prefix)

    # Ctrl-C stops every process it started
    pids = [c["pid"] for name, c in status["components"].items() if name != "kafka"]
    assert all(_pid_alive(p) for p in pids)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=BOUND) == 0, log.read_text()
    assert not [p for p in pids if _pid_alive(p)], "components left running after Ctrl-C"
    assert "stopped" in log.read_text()


def test_components_die_with_a_killed_supervisor(hub):
    proc, env, status, log = hub
    pids = [c["pid"] for name, c in status["components"].items() if name != "kafka"]
    proc.kill()  # no chance to clean up: the kernel's parent-death signal must stop the components
    proc.wait()
    wait_for(lambda: not [p for p in pids if _pid_alive(p)], "components to stop after the supervisor was killed")


def test_restart_resumes_without_duplicating_or_dropping(kafka_bootstrap, prefix, tmp_path):
    """Stop the whole hub and start it again on the same topics: connectors resume, the worker recovers its
    table from the changelog, and the case view neither loses nor doubles anything."""
    env, log = hub_env(kafka_bootstrap, prefix, tmp_path / "home"), tmp_path / "up.log"
    proc = start_up(env, log)
    try:
        status = wait_running(env, proc, log)
        db = status["case_view_url"].removeprefix("sqlite:///")
        sample_dir = status["sample_dir"]
        total = transitions(sample_dir)
        wait_for(
            lambda: (view_rows(db, "SELECT count(DISTINCT event_id) FROM case_events") or [[0]])[0][0] == total,
            "every sample event in the view",
            proc=proc,
            log=log,
        )
        case_id, version = view_rows(
            db,
            "SELECT c.case_id, c.version FROM cases c JOIN case_refs r ON r.case_id = c.case_id WHERE r.kind = "
            "'MEDIATION' ORDER BY c.case_id LIMIT 1",
        )[0]
        number = view_rows(
            db,
            "SELECT number FROM case_refs WHERE case_id = ? AND kind = 'MEDIATION' AND system = "
            "'ln-mediation-platform'",
            case_id,
        )[0][0]
    finally:
        stop_up(proc)
    assert proc.returncode == 0, log.read_text()

    with sqlite3.connect(os.path.join(sample_dir, "mediation.db")) as conn:  # changed while the hub was down
        changed = conn.execute(
            "UPDATE tj_ajxx SET zt = '60', gxsj = '2026-11-20 10:00:00' WHERE ajbh = ?", (number,)
        ).rowcount
    assert changed == 1
    proc = start_up(env, log)
    try:
        wait_running(env, proc, log)
        wait_for(
            lambda: view_rows(db, "SELECT version FROM cases WHERE case_id = ? AND version = ?", case_id, version + 1),
            "the case's next version",
            proc=proc,
            log=log,
        )
        # the connector's re-read window and the restart published nothing twice: one more event in all
        wait_for(
            lambda: (view_rows(db, "SELECT count(DISTINCT event_id) FROM case_events") or [[0]])[0][0] == total + 1,
            "exactly one new event",
            proc=proc,
            log=log,
        )
        events = [m for m in asyncio.run(read_topic(kafka_bootstrap, f"{prefix}casehub.mediation.events"))]
        mediation_db = os.path.join(sample_dir, "mediation.db")
        assert len(events) == count(mediation_db, "tj_ajxx") + count(mediation_db, "tj_ajzt_ls") + 1
    finally:
        stop_up(proc)
    stage = view_rows(db, "SELECT stage, status FROM cases WHERE case_id = ?", case_id)[0]
    assert stage == ("CLOSED", "MEDIATION:WITHDRAWN")
