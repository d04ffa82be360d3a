"""Synthetic multi-agency sample databases: valid identities, complete ground truth, resolvable cross-references."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from casehub.connectors.adapters import mediation as adapter
from casehub.connectors.samples import journeys
from casehub.connectors.samples.databases import create_sample_databases, inject_bad_rows
from casehub.connectors.samples.expected import expected
from casehub.connectors.samples.mediation_db import tj_ajxx
from casehub.connectors.samples.numbering import CALENDAR, SHANGHAI

MAIN = {
    "mediation": ("tj_ajxx", "ajid"),
    "arbitration": ("arb_case", "id"),
    "court": ("AJ_JBXX", "AJID"),
    "inspection": ("complaints", "complaint_id"),
}
ID_COLUMNS = [
    ("mediation", "tj_ajxx", "sqr_sfzh"),
    ("arbitration", "arb_case", "claimant_id_no"),
    ("arbitration", "arb_case_party", "id_no"),
    ("court", "AJ_JBXX", "YG_ZJHM"),
    ("inspection", "complaints", "complainant_idcard"),
]
CODE_COLUMNS = [
    ("mediation", "tj_ajxx", "bsqr_xydm"),
    ("arbitration", "arb_case", "respondent_credit_code"),
    ("arbitration", "arb_case", "co_respondent_credit_code"),
    ("court", "AJ_JBXX", "BG_TYSHXYDM"),
    ("inspection", "complaints", "employer_uscc"),
]
BRACKETS = str.maketrans({"〔": "(", "〕": ")", "［": "(", "］": ")", "（": "(", "）": ")", "[": "(", "]": ")"})


def norm(number: str) -> str:
    """NFKC (full-width digits and brackets to ASCII), one bracket style, no spaces, no 第 or closing 号."""
    text = "".join(unicodedata.normalize("NFKC", number).translate(BRACKETS).split())
    return re.sub(r"第(?=\d)", "", text).removesuffix("号")


def query(folder: Path, system: str, sql: str) -> list[sqlite3.Row]:
    con = sqlite3.connect(folder / f"{system}.db")
    con.row_factory = sqlite3.Row
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def dump(folder: Path) -> dict:
    out = {}
    for system in MAIN:
        for (table,) in query(folder, system, "SELECT name FROM sqlite_master WHERE type='table'"):
            out[(system, table)] = sorted(tuple(r) for r in query(folder, system, f'SELECT * FROM "{table}"'))
    return out


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("samples")
    summary = create_sample_databases(folder, 60, seed=7)
    truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    return folder, summary, truth


def test_identities_have_valid_check_characters(sample):
    folder, _, _ = sample
    for system, table, column in ID_COLUMNS:
        values = [r[0] for r in query(folder, system, f"SELECT {column} FROM {table}")]
        assert values and all(ric.is_valid(v) for v in values), (system, column)
    for system, table, column in CODE_COLUMNS:
        values = [r[0] for r in query(folder, system, f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")]
        assert values and all(uscc.is_valid(v) for v in values), (system, column)


def test_mediation_table_is_the_adapters_table(sample):
    folder, _, _ = sample
    columns = [r["name"] for r in query(folder, "mediation", "PRAGMA table_info(tj_ajxx)")]
    assert columns == [c.name for c in adapter.tj_ajxx.columns] == [c.name for c in tj_ajxx.columns]
    codes = {r[0] for r in query(folder, "mediation", "SELECT zt FROM tj_ajxx UNION SELECT zt FROM tj_ajzt_ls")}
    assert codes <= set(adapter.STATUS)
    kinds = {r[0] for r in query(folder, "mediation", "SELECT tjzz_lx FROM tj_ajxx")}
    assert {"01", "02", "04", "05"} <= kinds <= set(adapter.ORG_KIND)


def test_ground_truth_covers_every_main_row_once_and_a_fan_out_complaint_in_each_of_its_cases(sample):
    folder, summary, truth = sample
    seen = Counter((r["system"], r["table"], r["record_id"]) for case in truth for r in case["records"])
    shared = {k for k, n in seen.items() if n > 1}
    fan_out = {
        (s, t, str(r[0]))
        for s, t, r in (
            ("inspection", "complaints", r)
            for r in query(
                folder,
                "inspection",
                "SELECT complaint_id FROM complaints WHERE complaint_id IN (SELECT complaint_id FROM complaint_worker)",
            )
        )
    }
    assert shared and shared == fan_out
    for key in shared:
        (workers,) = query(folder, "inspection", f"SELECT count(*) FROM complaint_worker WHERE complaint_id={key[2]}")[
            0
        ]
        assert seen[key] == workers  # one application per worker, the complaint in each case
    expected = {(s, t, str(r[0])) for s, (t, pk) in MAIN.items() for r in query(folder, s, f"SELECT {pk} FROM {t}")}
    assert set(seen) == expected
    assert all(case["records"] for case in truth)
    assert sum(summary["rows"][s][t] for s, (t, _) in MAIN.items()) == len(expected)


def test_records_of_one_case_share_identities(sample):
    folder, _, truth = sample
    sql = {
        "mediation": "SELECT sqr_sfzh, bsqr_xydm FROM tj_ajxx WHERE ajid={}",
        "arbitration": "SELECT claimant_id_no, respondent_credit_code FROM arb_case WHERE id={}",
        "court": "SELECT YG_ZJHM, BG_TYSHXYDM FROM AJ_JBXX WHERE AJID={}",
        "inspection": "SELECT complainant_idcard, employer_uscc FROM complaints WHERE complaint_id={}",
    }
    for case in truth:
        for rec in case["records"]:
            person, employer = query(folder, rec["system"], sql[rec["system"]].format(rec["record_id"]))[0]
            assert employer == case["employer_credit_code"]
            if case["kind"] == "fan_out" and rec["system"] == "inspection":  # the complaint names every worker
                named = {
                    r[0]
                    for r in query(
                        folder,
                        "inspection",
                        f"SELECT idcard FROM complaint_worker WHERE complaint_id={rec['record_id']}",
                    )
                }
                assert set(case["worker_id_numbers"]) <= named
            else:
                assert person in case["worker_id_numbers"]


def test_every_journey_kind_and_worker_category_occurs(sample):
    folder, _, truth = sample
    assert {c["kind"] for c in truth} == set(journeys.KINDS)
    assert {"migrant", "dispatched", "rider"} <= {c["category"] for c in truth}
    court = {(r[0], r[1]) for r in query(folder, "court", "SELECT AJLX, AJZT FROM AJ_JBXX")}
    assert {("MT", "YX"), ("MT", "BH"), ("MD", "ZF")} <= court and any(t == "MC" for t, _ in court)
    assert query(folder, "court", "SELECT count(*) FROM AJ_JBXX WHERE AJLX='MC' AND ARB_NO IS NOT NULL")[0][0] > 0
    arb = {r[0] for r in query(folder, "arbitration", "SELECT status FROM arb_case_status")}
    assert {1, 2, 3, 4, 6, 7, 8} <= arb
    med = {r[0] for r in query(folder, "mediation", "SELECT zt FROM tj_ajxx")}
    assert {"40", "50", "60", "80", "90"} <= med
    handoffs = {r[0] for r in query(folder, "inspection", "SELECT handoff_target FROM complaints")}
    assert {"arbitration", "mediation", None} <= handoffs
    assert query(
        folder,
        "arbitration",
        "SELECT count(*) FROM arb_case WHERE employment_type=2 AND co_respondent_credit_code IS NOT NULL",
    )[0][0]


def test_group_disputes_have_at_least_ten_workers(sample):
    folder, _, truth = sample
    groups = [c for c in truth if c["kind"] == "group_dispute"]
    assert groups and all(c["worker_count"] >= 10 for c in groups)
    for row in query(folder, "arbitration", "SELECT id, worker_count FROM arb_case WHERE is_group=1"):
        parties = query(
            folder, "arbitration", f"SELECT is_representative FROM arb_case_party WHERE case_id={row['id']}"
        )
        assert row["worker_count"] >= 10 and len(parties) == row["worker_count"] and sum(p[0] for p in parties) == 1


def test_court_text_columns_are_gbk_not_utf8(sample):
    folder, _, _ = sample
    rows = query(folder, "court", "SELECT FYMC, AY, YG_MC, BG_MC, TJZZ_MC FROM AJ_JBXX")
    values = [v for r in rows for v in r if v is not None]
    assert values and all(isinstance(v, bytes) for v in values)
    for v in values:
        text = v.decode("gbk")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in text)
        with pytest.raises(UnicodeDecodeError):
            v.decode("utf-8")


def test_cross_agency_references_resolve_within_the_same_case(sample):
    folder, _, truth = sample
    owner: dict = {}
    for c in truth:
        for r in c["records"]:
            owner.setdefault((r["system"], r["record_id"]), set()).add(c["case_key"])
    issued = {
        "mediation": query(folder, "mediation", "SELECT ajid, ajbh FROM tj_ajxx"),
        "arbitration": query(folder, "arbitration", "SELECT id, case_no FROM arb_case WHERE case_no IS NOT NULL"),
        "inspection": query(folder, "inspection", "SELECT complaint_id, complaintNo FROM complaints"),
    }
    targets = {agency: {norm(r[1]): (r[0], r[1]) for r in rows} for agency, rows in issued.items()}
    refs = [
        ("arbitration", r[0], "mediation", r[1])
        for r in query(
            folder, "arbitration", "SELECT id, mediation_case_no FROM arb_case WHERE mediation_case_no IS NOT NULL"
        )
    ]
    refs += [
        ("arbitration", r[0], "inspection", r[1])
        for r in query(
            folder,
            "arbitration",
            "SELECT id, inspection_complaint_no FROM arb_case WHERE inspection_complaint_no IS NOT NULL",
        )
    ]
    refs += [
        ("court", r[0], "arbitration", r[1])
        for r in query(folder, "court", "SELECT AJID, ARB_NO FROM AJ_JBXX WHERE ARB_NO IS NOT NULL")
    ]
    refs += [
        ("court", r[0], "mediation", r[1])
        for r in query(folder, "court", "SELECT AJID, TJXY_BH FROM AJ_JBXX WHERE TJXY_BH IS NOT NULL")
    ]
    refs += [
        ("inspection", r[0], r[1], r[2])
        for r in query(
            folder,
            "inspection",
            "SELECT complaint_id, handoff_target, handoffCaseNo FROM complaints WHERE handoffCaseNo IS NOT NULL",
        )
    ]
    assert len(refs) > 20
    varied = 0
    for system, record, target, number in refs:
        target_id, as_issued = targets[target][norm(number)]
        assert owner[(system, str(record))] & owner[(target, str(target_id))]
        varied += number != as_issued
    # about 20% of references are typed differently from the issuing agency (other brackets, full-width digits)
    assert 0.05 <= varied / len(refs) <= 0.45, (varied, len(refs))


def test_latest_state_matches_history_and_history_is_ordered(sample):
    folder, _, _ = sample
    checks = [
        ("mediation", "tj_ajxx", "ajid", "zt", "gxsj", "tj_ajzt_ls", "ajid", "xh", "bgsj"),
        ("arbitration", "arb_case", "id", "status", "updated_at", "arb_case_status", "case_id", "id", "changed_at"),
        ("court", "AJ_JBXX", "AJID", "AJZT", "XGSJ", "AJ_LCJL", "AJID", "JLID", "BGSJ"),
        (
            "inspection",
            "complaints",
            "complaint_id",
            "status",
            "lastModified",
            "complaint_log",
            "complaint_id",
            "logId",
            "at",
        ),
    ]
    for system, table, pk, status, cursor, hist, fk, seq, when in checks:
        history: dict = {}
        for r in query(folder, system, f"SELECT {fk}, {status}, {when} FROM {hist} ORDER BY {fk}, {seq}"):
            history.setdefault(r[0], []).append((r[1], r[2]))
        for r in query(folder, system, f"SELECT {pk}, {status}, {cursor} FROM {table}"):
            times = [t for _, t in history[r[0]]]
            assert times == sorted(times) and len(set(times)) == len(times), (system, r[0])
            assert history[r[0]][-1] == (r[1], r[2]), (system, r[0])


def test_deadlines_are_respected_loosely(sample):
    folder, _, _ = sample
    for r in query(
        folder,
        "arbitration",
        "SELECT id, applied_at, accepted_at, closed_at, status FROM arb_case WHERE accepted_at IS NOT NULL",
    ):
        referred = query(
            folder, "arbitration", f"SELECT count(*) FROM arb_case_status WHERE case_id={r['id']} AND status=4"
        )[0][0]
        if not referred:  # accepted within 5 working days (the official holidays are no working days)
            applied, accepted = (
                dt.datetime.fromtimestamp(r[k] / 1000, SHANGHAI).date() for k in ("applied_at", "accepted_at")
            )
            days = [applied + dt.timedelta(days=i) for i in range(1, (accepted - applied).days + 1)]
            assert sum(CALENDAR.is_working_day(d) for d in days) <= 5
        assert r["closed_at"] - r["accepted_at"] <= 61 * 86_400_000  # 45 days + 15 with approval
    for r in query(folder, "court", "SELECT SQRQ, LARQ FROM AJ_JBXX WHERE AJLX IN ('MT', 'MD')"):
        days = (dt.datetime.strptime(r["LARQ"], "%Y%m%d") - dt.datetime.strptime(r["SQRQ"], "%Y%m%d")).days
        assert 0 <= days <= 7
    for r in query(folder, "inspection", "SELECT receivedAt, lastModified FROM complaints"):
        assert (
            r[0].endswith("+08:00")
            and "T" in r[0]
            and dt.datetime.fromisoformat(r[0]) < dt.datetime.fromisoformat(r[1])
        )


def test_same_seed_same_content_and_rerun_does_not_duplicate(tmp_path):
    create_sample_databases(tmp_path / "a", 30, seed=3, today=TODAY)
    create_sample_databases(tmp_path / "b", 30, seed=3, today=TODAY)
    first = dump(tmp_path / "a")
    assert first == dump(tmp_path / "b")
    assert (tmp_path / "a" / "ground_truth.json").read_bytes() == (tmp_path / "b" / "ground_truth.json").read_bytes()
    create_sample_databases(tmp_path / "a", 30, seed=3, today=TODAY)
    assert dump(tmp_path / "a") == first
    create_sample_databases(tmp_path / "c", 30, seed=4, today=TODAY)
    assert dump(tmp_path / "c") != first


def test_bad_rows_are_appended_and_described(tmp_path):
    create_sample_databases(tmp_path, 20, seed=5)
    bad = inject_bad_rows(tmp_path)
    problems = {(b["system"], b["problem"]) for b in bad}
    for system in ("mediation", "arbitration"):
        for problem in (
            "unknown status code",
            "unparseable date",
            "invalid ID check digit",
            "oversized field (10,000 characters)",
            "NULL required field",
        ):
            assert (system, problem) in problems
    assert ("court", "undecodable bytes in a GBK column") in problems
    for b in bad:
        table, pk = MAIN[b["system"]]
        (value,) = query(tmp_path, b["system"], f'SELECT "{b["field"]}" FROM {table} WHERE {pk}={b["record_id"]}')[0]
        if "check digit" in b["problem"]:
            assert len(value) == 18 and not ric.is_valid(value)
        elif "oversized" in b["problem"]:
            assert len(value) == 10_000
        elif "NULL" in b["problem"]:
            assert value is None
        elif "GBK" in b["problem"]:
            with pytest.raises(UnicodeDecodeError):
                value.decode("gbk")
        elif "status" in b["problem"]:
            assert value not in adapter.STATUS and value not in range(1, 10)
        else:
            with pytest.raises(ValueError):
                dt.datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")
    truth = json.loads((tmp_path / "ground_truth.json").read_text(encoding="utf-8"))
    known = {(r["system"], r["record_id"]) for c in truth for r in c["records"]}
    assert not any((b["system"], b["record_id"]) in known for b in bad)


def test_two_thousand_journeys(tmp_path):
    summary = create_sample_databases(tmp_path, 2000)
    assert summary["rows"]["mediation"]["tj_ajxx"] >= 1000


TODAY = dt.date(2026, 12, 2)


@pytest.mark.parametrize("today", [TODAY, dt.date(2026, 2, 24), dt.date(2027, 10, 8)])  # after long holidays too
def test_recent_agreements_wait_for_an_application_or_are_past_their_30_days(today):
    """The journeys casehub applies for itself: agreements with both consents, no court case, effective a few
    days to weeks before `today` (pending) or more than 30 days before it (late); every step before today."""
    cases = journeys.generate(600, 11, today)
    assert all(s.at.astimezone(SHANGHAI).date() < today for c in cases for p in c.proceedings for s in p.steps)
    kinds = Counter(c.kind for c in cases)
    assert kinds["confirmation_pending"] >= 10 and kinds["confirmation_late"] >= 3
    for c in cases:
        if c.kind not in journeys.RECENT:
            continue
        (m,) = c.proceedings
        assert m.agency == "mediation" and m.confirm_consent and m.last.status == "40"
        assert all(s.at.astimezone(SHANGHAI).date() < today for s in m.steps)
        age = (today - m.agreed_on).days
        confirmation = next(d for d in expected(c, today)["deadlines"] if d["kind"] == "CONFIRMATION_30_DAYS")
        if c.kind == "confirmation_pending":  # pending: a request is due
            assert 0 < age <= 30, age
            assert confirmation["state"] == "RUNNING" and expected(c, today)["casehub_may_add"]["agencies"] == ["court"]
        else:
            assert age > 30, age
            assert confirmation["state"] == "MISSED" and not expected(c, today)["casehub_may_add"]


def test_a_case_repeats_once_and_far_enough_or_close_enough_to_be_told_apart():
    """The reuse kinds repeat an earlier case's worker: each earlier case at most once (two repeats of one case
    would themselves be one case by the party-match rule), years later outside the 180-day window."""
    from casehub.domain.rules import PartyMatch

    cases = journeys.generate(2000, 7, TODAY)
    repeats = [c for c in cases if c.kind in journeys.REUSE]
    workers = Counter(c.workers for c in repeats)
    assert repeats and max(workers.values()) == 1
    for c in repeats:
        if c.kind == "same_worker_years_later":
            (before,) = [b for b in cases if b.workers == c.workers and b is not c]
            gap = c.proceedings[0].steps[0].at - max(p.last.at for p in before.proceedings)
            assert gap.days > PartyMatch().window_days, (c.key, gap)
    with pytest.raises(ValueError, match="earliest day"):
        journeys.generate(10, 7, dt.date(2025, 6, 1))


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 40), seed=st.integers(0, 10_000))
def test_generated_journeys_are_ordered_and_references_point_back(n, seed):
    cases = journeys.generate(n, seed, TODAY)
    assert len({c.key.split("-")[0] for c in cases}) == n and cases == journeys.generate(n, seed, TODAY)
    for case in cases:
        numbers = {(p.agency, p.number) for p in case.proceedings}
        for p in case.proceedings:
            times = [s.at for s in p.steps]
            assert times == sorted(times) and all(t.utcoffset() == dt.timedelta(hours=8) for t in times)
            for ref in p.refs:
                assert (ref.agency, ref.canonical) in numbers and norm(ref.number) == norm(ref.canonical)
