import datetime as dt

import pytest

from casehub.connectors.adapter import MappedAdapter
from casehub.connectors.base import MappingError
from casehub.connectors.mapping import builtin_mappings
from casehub.connectors.sample import mediation_rows
from casehub.domain.identities import Protector

NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


@pytest.fixture
def adapter():
    return MappedAdapter(builtin_mappings()["mediation"], Protector("test-secret"))


def test_row_maps_to_event_with_identities_protected(adapter):
    row = mediation_rows(1)[0]
    mapped = adapter.map_row(row, NOW)
    event = mapped.event
    worker = event["parties"][0]
    assert worker["id_hash"] and worker["id_masked"].startswith(row["sqr_sfzh"][:4])
    assert row["sqr_sfzh"] not in repr(event) and row["sqr_sjh"] not in repr(event)
    assert mapped.identities[0]["id_number"] == row["sqr_sfzh"]  # only the restricted record has it
    assert event["occurred_at"].tzinfo is not None
    # local time (Asia/Shanghai) becomes UTC: 8 hours earlier
    local = dt.datetime.strptime(row["gxsj"], "%Y-%m-%d %H:%M:%S")
    assert event["occurred_at"].replace(tzinfo=None) == local - dt.timedelta(hours=8)
    assert event["refs"][0]["number"] == row["ajbh"]


def test_event_id_is_deterministic_and_changes_with_the_row_version(adapter):
    row = mediation_rows(1)[0]
    a = adapter.map_row(row, NOW).event["event_id"]
    assert adapter.map_row(dict(row), NOW + dt.timedelta(days=1)).event["event_id"] == a
    assert adapter.map_row({**row, "gxsj": "2024-12-01 10:00:00"}, NOW).event["event_id"] != a


@pytest.mark.parametrize(
    "change, field, kind",
    [
        ({"zt": "99"}, "zt", "UNKNOWN_CODE"),
        ({"gxsj": "2024/13/01"}, "gxsj", "BAD_DATE"),
        ({"sqr_sfzh": "210102199003071234"}, "sqr_sfzh", "INVALID_ID_NUMBER"),
        ({"sqr_xm": None}, "sqr_xm", "MISSING_FIELD"),
        ({"qqje": "twelve"}, "qqje", "OTHER"),
        ({"ajbh": None}, "ajbh", "MISSING_FIELD"),
        ({"xysxrq": "2024/01/02", "zt": "40"}, "xysxrq", "BAD_DATE"),
        ({"bsqr_xydm": "NOT-A-CODE"}, "bsqr_xydm", "INVALID_CREDIT_CODE"),
    ],
)
def test_bad_rows_name_the_field(adapter, change, field, kind):
    row = {**mediation_rows(1)[0], **change}
    with pytest.raises(MappingError) as err:
        adapter.map_row(row, NOW)
    assert err.value.field == field
    assert err.value.kind == kind


def test_credit_code_failing_check_is_flagged(adapter):
    row = mediation_rows(1)[0]
    code = row["bsqr_xydm"]
    row["bsqr_xydm"] = code[:-1] + ("0" if code[-1] != "0" else "1")
    employer = adapter.map_row(row, NOW).event["parties"][1]
    assert employer["credit_code_valid"] is False


def test_agreement_and_organisation_from_the_hook(adapter):
    row = {
        **mediation_rows(1)[0],
        "zt": "40",
        "xyje": "1200.50",
        "xysxrq": "2024-05-06",
        "sfsqsfqr": "Y",
        "tjzz_lx": "05",
    }
    event = adapter.map_row(row, NOW).event
    assert event["organisation"]["kind"] == "PRE_ARBITRATION"
    agreement = event["agreement"]
    assert agreement["amount"]["amount_fen"] == 120050 and str(agreement["effective_date"]) == "2024-05-06"
    assert agreement["confirmation_consent_worker"] and agreement["confirmation_consent_employer"]


def test_sensitive_columns_are_masked_in_descriptions(adapter):
    row = mediation_rows(1)[0]
    text = adapter.describe(row)
    assert row["sqr_sfzh"] not in text and row["sqr_sjh"] not in text


def test_a_cursor_without_an_index_is_pointed_out(tmp_path):
    import sqlalchemy as sa

    from casehub.connectors.adapter import MappedAdapter
    from casehub.connectors.mapping import builtin_mappings
    from casehub.domain.identities import Protector

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE tj_ajxx (ajid INTEGER PRIMARY KEY, gxsj TEXT)")
    adapter = MappedAdapter(builtin_mappings()["mediation"], Protector("t")).bind(engine)
    assert "CREATE INDEX ... ON tj_ajxx (gxsj, ajid)" in adapter.index_advice()
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX by_time ON tj_ajxx (gxsj)")
    assert MappedAdapter(builtin_mappings()["mediation"], Protector("t")).bind(engine).index_advice() is None


def test_addresses_and_the_legal_representative_go_to_the_restricted_records_only(adapter):
    """The court needs both parties' addresses (住所/送达地址) and the employer's legal representative (法定代表人):
    they go with the identities, keyed by the hash of the resident ID or of the credit code, never into the event."""
    row = mediation_rows(1)[0]
    mapped = adapter.map_row(row, NOW)
    for value in (row["sqr_zz"], row["bsqr_zs"], row["bsqr_fddbr"]):
        assert value and value not in repr(mapped.event)
    person, organisation = mapped.identities
    assert person["address"] == row["sqr_zz"] and person["id_number"] == row["sqr_sfzh"]
    assert organisation == {
        "id_hash": Protector("test-secret").hash("uscc", row["bsqr_xydm"]),
        "party_type": "ORGANISATION",
        "name": row["bsqr_mc"],
        "credit_code": row["bsqr_xydm"],
        "address": row["bsqr_zs"],
        "legal_representative": row["bsqr_fddbr"],
        "source": organisation["source"],
        "recorded_at": NOW,
    }
    # an employer row without an address or a legal representative has nothing restricted to say
    bare = adapter.map_row({**row, "bsqr_zs": None, "bsqr_fddbr": "  "}, NOW)
    assert [i["party_type"] for i in bare.identities] == ["PERSON"]
    # a dead letter or a dry run shows the row with the addresses masked, listed in `sensitive` or not
    shown = adapter.describe(row)
    assert row["sqr_zz"] not in shown and row["bsqr_zs"] not in shown and row["bsqr_fddbr"] not in shown


def test_the_agreement_carries_its_terms_its_signed_document_and_the_delegating_court(adapter):
    row = {**next(r for r in mediation_rows(20) if r["zt"] == "40"), "wpfy": "辽0103"}
    event = adapter.map_row(row, NOW).event
    agreement = event["agreement"]
    assert agreement["terms"] == row["xynr"] and agreement["court_invited"] == "辽0103"
    assert event["delegated_by_court"] == "辽0103"
    (document,) = event["documents"]
    assert document == {
        "title": "调解协议书",
        "uri": row["xywj_dz"],
        "sha256": row["xywj_hash"],
        "media_type": "application/pdf",
    }
    # an upper-case hash is the same hash; none at all is no document
    assert adapter.map_row({**row, "xywj_hash": row["xywj_hash"].upper()}, NOW).event["documents"] == [document]
    assert adapter.map_row({**row, "xywj_dz": None, "xywj_hash": None}, NOW).event["documents"] == []


@pytest.mark.parametrize(
    "change, field, reason",
    [
        ({"xywj_hash": "1234"}, "xywj_hash", "not a SHA-256"),
        ({"xywj_hash": None}, "xywj_hash", "needs both its location and its SHA-256"),
        ({"xywj_dz": ""}, "xywj_dz", "needs both its location and its SHA-256"),
    ],
)
def test_a_broken_agreement_document_is_a_dead_letter_naming_the_column(adapter, change, field, reason):
    row = {**next(r for r in mediation_rows(20) if r["zt"] == "40"), **change}
    with pytest.raises(MappingError) as err:
        adapter.map_row(row, NOW)
    assert err.value.field == field and reason in err.value.reason


def test_a_broken_document_holds_only_the_agreement_event_and_identifiers_in_the_terms_are_masked(adapter):
    applied = {**next(r for r in mediation_rows(20) if r["zt"] == "10"), "xywj_hash": "abc", "xywj_dz": "x.pdf"}
    event = adapter.map_row(applied, NOW).event  # the record's other events go on
    assert event["documents"] == [] and event["event_type"] == "APPLIED"
    signed = next(r for r in mediation_rows(20) if r["zt"] == "40")
    terms = "申请人王伟（210102199001011234，13800001111）与被申请人达成协议：支付9000.00元"
    agreement = adapter.map_row({**signed, "xynr": terms}, NOW).event["agreement"]
    assert agreement["terms"] == "申请人王伟（2101**********1234，138****1111）与被申请人达成协议：支付9000.00元"
