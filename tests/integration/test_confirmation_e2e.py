"""Judicial confirmation end to end, as an integrator runs it: `casehub up` on the sample (its own recent agreements,
plus a few rows written by hand the way the mediation platform records them), `casehub court-sim` failing a third
of first deliveries. Every eligible agreement reaches the court with jurisdiction exactly once with its deadline;
ineligible and late ones are not sent; the court's rulings come back through the callback into the case record and
the case page. Then `casehub rebuild-view` on a fresh database gives the same content as the live view.

CONFIRMATION_E2E_CASES sets the sample size (default 60) and CONFIRMATION_E2E_ELIGIBLE the eligible
agreements added by hand (default 8); docs/CONFIRMATION.md has the figures of 2000 cases with none added.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from casehub.connectors.samples.databases import create_sample_databases
from casehub.ground.kafka import read_to_end
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.client import RegistryClient
from casehub.sinks.rebuild import content_of
from casehub.sinks.view_tables import case_agreements, cases, confirmation_requests
from tests.support.confirmations import add_agreements, sample_agreements
from tests.support.hub import get_json, get_text, hub_env, start_up, status_of, stop_up, wait_for

CASES = int(os.environ.get("CONFIRMATION_E2E_CASES", "60"))
LIMIT = 240 + CASES * 0.3  # seconds any one wait below may take (a bound, not a speed requirement)
ELIGIBLE = int(os.environ.get("CONFIRMATION_E2E_ELIGIBLE", "8"))
PLAN = {"eligible": ELIGIBLE, "delegated": 2, "no_consent": 2, "not_lawful": 1, "not_in_roster": 1, "late": 2}


def test_every_eligible_agreement_reaches_its_court_once_and_the_rulings_come_back(
    kafka_bootstrap, registry_url, registry_credentials, prefix, tmp_path
):
    home = tmp_path / "home"
    sample = home / "sample"
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    create_sample_databases(sample, CASES, today=today)
    own = sample_agreements(sample, CASES, today)
    assert {a.why for a in own} >= {"eligible", "late"}, "the sample holds no recent agreement"
    added = own + add_agreements(sample, today, PLAN)
    eligible = {a.number: a for a in added if a.why == "eligible"}
    # the session's registry: it outlives the hub (`casehub rebuild-view` decodes with it after the hub stopped)
    env = hub_env(
        kafka_bootstrap,
        prefix,
        home,
        CASEHUB_SCHEMA_REGISTRY_URL=registry_url,
        CASEHUB_REGISTRY_CREDENTIALS=registry_credentials,
        CASEHUB_COURT_SIM_FAIL_SHARE="0.34",
        CASEHUB_RELAY_TIMEOUT="2",
    )
    log = tmp_path / "up.log"
    started = time.monotonic()
    proc = start_up(env, log)
    try:
        status = wait_for(lambda: status_of(env), "the hub to run", proc=proc, log=log)
        sim, web = status["court_sim_url"], status["web_url"]
        operator = (home / "secrets" / "operator_token").read_text().strip()

        def received():
            stats = get_json(sim + "/stats")
            return stats if sum(c["received"] for c in stats.values()) >= len(eligible) else None

        wait_for(received, f"{len(eligible)} requests at the courts", LIMIT, proc, log)
        db = status["case_view_url"]
        engine = sa.create_engine(db)

        def ruled():
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.select(confirmation_requests.c.request_id, confirmation_requests.c.court_outcome).where(
                        confirmation_requests.c.state == "DELIVERED"
                    )
                ).all()
            done = [r for r in rows if r.court_outcome in ("RULED_VALID", "REJECTED")]
            return rows if len(done) == len(eligible) else None

        delivered = wait_for(ruled, "every delivered request ruled by its court", LIMIT, proc, log)
        seconds = time.monotonic() - started
        stats = get_json(sim + "/stats")

        # exactly once, from the court's side
        requests = {rid: code for code, c in stats.items() for rid in c["requests"]}
        assert len(requests) == len(eligible) == len(delivered)
        assert not [a for c in stats.values() for a in c["agreements_received_twice"]]
        failures = {k: sum(c["failures"].get(k, 0) for c in stats.values()) for k in ("HTTP_503", "TIMEOUT")}
        assert sum(failures.values()) >= 1, "the simulator failed no delivery: nothing was tested"
        assert all(c["identities_complete"] for c in stats.values())
        # and what the court needs besides: the signed agreement with its hash, the terms, both service addresses
        for need in ("without_agreement_document", "without_terms", "without_addresses"):
            assert not [r for c in stats.values() for r in c[need]], need
        assert len([a for a in added if a.delegated_by]) == PLAN["delegated"]  # checked below: at the delegating court
        # the right court and deadline for each eligible agreement; nothing else was sent
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    case_agreements.c.number,
                    case_agreements.c.confirmation_decision,
                    confirmation_requests.c.request_id,
                    confirmation_requests.c.court_code,
                    confirmation_requests.c.deadline,
                    confirmation_requests.c.state,
                    confirmation_requests.c.case_id,
                ).join(
                    confirmation_requests,
                    confirmation_requests.c.agreement_key == case_agreements.c.agreement_key,
                    isouter=True,
                )
            ).all()
        by_number = {r.number: r for r in rows}
        for number, agreement in eligible.items():
            row = by_number[number]
            assert row.confirmation_decision == "REQUEST" and row.state == "DELIVERED", row
            assert requests[row.request_id] == agreement.court_code == row.court_code
            assert stats[row.court_code]["deadlines"][row.request_id] == agreement.deadline.isoformat()
        expected = {
            "no_consent": "NO_CONSENT",
            "not_lawful": "NOT_LAWFUL",
            "not_in_roster": "NOT_IN_ROSTER",
            "at_court": "AT_COURT",
        }
        for a in added:
            row = by_number[a.number]
            if a.why in expected:
                assert row.confirmation_decision == expected[a.why], row
                # an agreement whose court record arrived after it was judged eligible: the request casehub built
                # then is withdrawn (by the sink; the relay logs it), never delivered to a court
                assert row.request_id is None or a.why == "at_court" and row.state in ("WITHDRAWING", "WITHDRAWN"), row
                assert row.request_id not in requests, row
            if a.why == "late":
                assert row.state == "EXPIRED" and row.request_id not in requests, row
        alerts = get_json(web + "/api/alerts", operator)["alerts"]
        late_ids = {by_number[a.number].request_id for a in added if a.why == "late"}
        assert {a["alert_id"].split(":")[0] for a in alerts if a["kind"] == "DEADLINE_MISSED"} >= late_ids
        withdrawn = {by_number[a.number].request_id for a in added if by_number[a.number].state == "WITHDRAWN"}
        assert not [a for a in alerts if a["alert_id"].split(":")[0] in withdrawn]  # no false alert stays shown

        # the rulings are in the case records and on the case page
        for number in eligible:
            row = by_number[number]
            record = get_json(f"{web}/api/cases/{row.case_id}", operator)
            assert record["confirmation"]["state"] in ("RULED_VALID", "REJECTED"), record["confirmation"]
            assert "民特" in record["confirmation"]["court_case_number"]
            assert record["confirmation"]["request_id"] == row.request_id
            page = get_text(f"{web}/cases/{row.case_id}", operator)
            assert "裁定协议有效" in page or "裁定驳回" in page
        with engine.connect() as conn:
            case_count = conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one()
            decisions = dict(
                conn.execute(
                    sa.select(case_agreements.c.confirmation_decision, sa.func.count()).group_by(
                        case_agreements.c.confirmation_decision
                    )
                ).all()
            )
        print(
            f"\nconfirmation e2e: {CASES} sample cases ({Counter(a.why for a in own)}) + {len(added) - len(own)} "
            f"agreements by hand, {case_count} case rows; "
            f"{len(eligible)} eligible delivered once each; court-sim failures {failures}, duplicates "
            f"{sum(c['duplicates'] for c in stats.values())}; all ruled {seconds:.0f}s after `casehub up`; "
            f"agreement decisions {decisions}"
        )

        # an operator adds an organisation the operator page listed as missing to the roster, while the hub runs:
        # its agreement is judged again and reaches its court, once
        missing = next(a for a in added if a.why == "not_in_roster" and a.organisation)  # one written by hand
        assert missing.organisation["name"] in get_text(f"{web}/operator", operator)
        org = missing.organisation
        with open(sample / "roster.toml", "a", encoding="utf-8") as f:
            f.write(
                f'\n[[organisation]]\ncode = "MO-ADDED-1"\nname = "{org["name"]}"\nkind = "{org["kind"]}"\n'
                f'division_code = "{org["division_code"]}"\nlawfully_established = true\n'
            )

        def sent_after_the_edit():
            with engine.connect() as conn:
                return conn.execute(
                    sa.select(confirmation_requests.c.request_id, confirmation_requests.c.court_code)
                    .join(case_agreements, case_agreements.c.agreement_key == confirmation_requests.c.agreement_key)
                    .where(case_agreements.c.number == missing.number, confirmation_requests.c.state == "DELIVERED")
                ).first()

        added_row = wait_for(sent_after_the_edit, "the added organisation's agreement at its court", LIMIT, proc, log)
        after = get_json(sim + "/stats")
        assert after[added_row.court_code]["requests"].count(added_row.request_id) == 1
        assert added_row.court_code == missing.court_code
        assert not [a for c in after.values() for a in c["agreements_received_twice"]]

        # the live view has every case's latest version before the hub stops (so the rebuild can be compared)
        codec = AvroCodec(
            RegistryClient(status["schema_registry_url"], credentials=registry_credentials), prefix=prefix
        )

        async def latest_on_topic():
            latest = {}
            async for m in read_to_end(kafka_bootstrap, f"{prefix}casehub.cases"):
                record = codec.decode(m.value)
                latest[record["case_id"]] = max(latest.get(record["case_id"], 0), record["version"])
            return latest

        def caught_up():
            with engine.connect() as conn:
                stored = dict(conn.execute(sa.select(cases.c.case_id, cases.c.version)).all())
            return stored == asyncio.run(latest_on_topic())

        wait_for(caught_up, "the live view to hold every case's latest version", LIMIT, proc, log)
    finally:
        stop_up(proc)
    assert proc.returncode == 0, log.read_text()[-3000:]

    # `casehub rebuild-view` on a fresh database: the same content as the live view
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "casehub", "rebuild-view", "--url", rebuilt],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "case view rebuilt" in result.stdout
    live, fresh = content_of(engine), content_of(sa.create_engine(rebuilt))
    for table in live:
        assert live[table] == fresh[table], f"table {table} differs after rebuild-view"
    assert live["confirmation_requests"] and live["court_answers"] and live["alerts"]
    engine.dispose()
    Path(tmp_path / "rebuilt.db").unlink()
