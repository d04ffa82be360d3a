"""Finding 1 of issue 11, against real `casehub registry` processes and the real broker: nobody without the credential
writes, casehub's own subjects are protected, and a contract subject deleted and overwritten (by an operator who
unlocked it) leaves the registry serving after a restart, reporting the conflict, until `casehub schemas repair`
restores the contract's schema; `casehub import` meanwhile says what is wrong instead of a traceback."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import uuid

from casehub.connectors.sample import mediation_rows
from tests.support.hub import hub_env, start_up, stop_up, wait_for, wait_running
from tests.support.registry import INTRUDER, basic, call, start_registry

CREDENTIALS = "operator:registry-conflict-secret"


def casehub(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "casehub", *args], env=env, capture_output=True, text=True, timeout=180
    )


def import_file(tmp_path) -> str:
    rows = [{k: v for k, v in r.items()} for r in mediation_rows(2, seed=5)]
    path = tmp_path / "rows.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def overwrite_contract_subject(kafka_bootstrap: str, home, prefix: str, log) -> tuple[list[int], dict]:
    """The finding's sequence, by an operator who unlocked the contract: delete casehub.cases-value, register
    INTRUDER under it. Returns (the versions deleted, the intruder's registration)."""
    subject, auth = f"{prefix}casehub.cases-value", basic(CREDENTIALS)
    registry = start_registry(
        kafka_bootstrap, home, prefix, log, registry_credentials=CREDENTIALS, registry_allow_contract_changes="true"
    )
    try:
        status, deleted = call(f"{registry.url}/subjects/{subject}", "DELETE", headers=auth)
        assert status == 200, deleted
        status, intruder = call(
            f"{registry.url}/subjects/{subject}/versions", "POST", {"schema": json.dumps(INTRUDER)}, auth
        )
        assert status == 200, intruder
        return deleted, intruder
    finally:
        registry.stop()


def test_delete_and_overwrite_of_a_contract_subject_leaves_the_hub_restartable(kafka_bootstrap, tmp_path):
    prefix = f"brick-{uuid.uuid4().hex[:6]}."
    subject = f"{prefix}casehub.cases-value"
    auth = basic(CREDENTIALS)
    home = tmp_path / "home"

    # 1. a locked registry: no write without the credential, and casehub's subjects are protected even with it
    registry = start_registry(kafka_bootstrap, home, prefix, tmp_path / "locked.log", registry_credentials=CREDENTIALS)
    try:
        url = registry.url
        contract = call(f"{url}/subjects/{subject}/versions/latest")[1]
        assert call(f"{url}/subjects/{subject}", "DELETE")[0] == 401
        assert call(f"{url}/subjects/{subject}/versions", "POST", {"schema": json.dumps(INTRUDER)})[0] == 401
        status, body = call(f"{url}/subjects/{subject}", "DELETE", headers=auth)
        assert status == 422 and "CASEHUB_REGISTRY_ALLOW_CONTRACT_CHANGES" in body["message"]
        status, body = call(f"{url}/subjects/{subject}/versions", "POST", {"schema": json.dumps(INTRUDER)}, auth)
        assert status == 409 and "cn.casehub.CaseRecord" in body["message"]
        assert call(f"{url}/subjects/{subject}/versions/latest")[1] == contract
    finally:
        registry.stop()

    # 2. the finding's sequence, by an operator who unlocked the contract
    deleted, intruder = overwrite_contract_subject(kafka_bootstrap, home, prefix, tmp_path / "unlocked.log")
    assert deleted == [contract["version"]]

    # 3. the next start: the registry serves on and names the conflict in its log, its status and its metrics
    registry = start_registry(
        kafka_bootstrap, home, prefix, tmp_path / "restarted.log", registry_credentials=CREDENTIALS
    )
    try:
        url = registry.url
        status, report = call(f"{url}/casehub/status")
        assert status == 200 and report["ok"] is False
        [conflict] = report["contract"]["conflicts"]
        assert conflict["subject"] == subject
        assert (conflict["registered_version"], conflict["registered_id"]) == (contract["version"] + 1, intruder["id"])
        assert (conflict["contract_version"], conflict["contract_id"]) == (contract["version"], contract["id"])
        metrics = call(f"{url}/metrics")[1]
        assert "casehub_registry_contract_conflicts 1.0" in metrics and subject in metrics
        logged = [json.loads(line) for line in registry.log.read_text().splitlines() if line.startswith("{")]
        [line] = [entry for entry in logged if entry.get("event", "").startswith("contract subject conflicts")]
        assert line["subject"] == subject and line["registered_version"] == contract["version"] + 1
        assert line["contract_version"] == contract["version"] and line["repair"] == "casehub schemas repair"
        assert registry.proc.poll() is None

        env = {k: v for k, v in os.environ.items() if not k.startswith("CASEHUB_")}
        env.update(
            CASEHUB_HOME=str(home),
            CASEHUB_KAFKA_BOOTSTRAP=kafka_bootstrap,
            CASEHUB_SCHEMA_REGISTRY_URL=url,
            CASEHUB_TOPIC_PREFIX=prefix,
            CASEHUB_HMAC_SECRET="conflict-test-secret",
        )
        # a spreadsheet import is refused with the subject and the repair named, not a traceback
        refused = casehub(env, "import", "--source", "mediation", import_file(tmp_path))
        assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert subject in refused.stderr and "casehub schemas repair" in refused.stderr

        status_run = casehub(env, "schemas", "status")
        assert status_run.returncode == 1 and subject in status_run.stdout

        # 4. the documented repair: without the credential it is refused; with it the contract's schema is back
        assert casehub(env, "schemas", "repair").returncode == 1
        repaired = casehub({**env, "CASEHUB_REGISTRY_CREDENTIALS": CREDENTIALS}, "schemas", "repair")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert f"soft-deleted v{contract['version'] + 1}" in repaired.stdout
        latest = call(f"{url}/subjects/{subject}/versions/latest")[1]
        assert (latest["id"], latest["schema"]) == (contract["id"], contract["schema"])
        assert call(f"{url}/casehub/status")[1]["ok"] is True
        imported = casehub(env, "import", "--source", "mediation", import_file(tmp_path))
        assert imported.returncode == 0, imported.stdout + imported.stderr
    finally:
        registry.stop()


def test_casehub_up_waits_for_the_repair_with_the_registry_serving(kafka_bootstrap, prefix, tmp_path):
    """The same conflict met by `casehub up`: it starts the registry, names the conflict and waits instead of stopping
    the hub; `casehub schemas repair` from another terminal (the same home) lets it start the rest."""
    home = tmp_path / "home"
    subject = f"{prefix}casehub.cases-value"
    overwrite_contract_subject(kafka_bootstrap, home, prefix, tmp_path / "unlocked.log")

    env = hub_env(kafka_bootstrap, prefix, home)
    log = tmp_path / "up.log"
    proc = start_up(env, log)
    try:
        wait_for(
            lambda: "casehub schemas repair" in log.read_text(), "casehub up to name the repair", proc=proc, log=log
        )
        assert subject in log.read_text()
        registry_url = f"http://127.0.0.1:{env['CASEHUB_REGISTRY_PORT']}"
        assert call(f"{registry_url}/casehub/status")[1]["ok"] is False  # the registry serves meanwhile
        assert not (home / "logs" / "worker.log").exists()  # nothing that would publish is started
        repaired = casehub(env, "schemas", "repair")  # finds the credential `casehub up` keeps in the home
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        status = wait_running(env, proc, log)
        assert {"worker", "sink", "connect", "web"} <= set(status["components"])
        assert "contract restored" in log.read_text()
    finally:
        stop_up(proc)
    assert proc.returncode == 0, log.read_text()
