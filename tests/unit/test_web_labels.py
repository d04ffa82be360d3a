"""Every code of the contract a case page shows has its Chinese label (casehub.sinks.web_labels): a symbol added to
an .avsc enum without one fails here, instead of showing a clerk an English code."""

from __future__ import annotations

import json

import pytest

from casehub.schemas.contract import AVRO_DIR
from casehub.sinks import web_labels as labels


def symbols(enum: str) -> list[str]:
    return json.loads((AVRO_DIR / f"cn.casehub.{enum}.avsc").read_text(encoding="utf-8"))["symbols"]


@pytest.mark.parametrize(
    "enum, table",
    [
        ("AgencyKind", labels.AGENCY),
        ("CaseStage", labels.STAGE),
        ("StageKind", labels.KIND),
        ("DeadlineKind", labels.DEADLINE),
        ("DeadlineState", labels.DEADLINE_STATE),
        ("ConfirmationState", labels.CONFIRMATION),
        ("PartyRole", labels.ROLE),
        ("LinkRule", labels.LINK_RULE),
        ("AlertKind", labels.ALERT),
        ("MediationEventType", labels.EVENT["MEDIATION"]),
        ("ArbitrationEventType", labels.EVENT["ARBITRATION"]),
        ("CourtEventType", labels.EVENT["COURT"]),
        ("InspectionEventType", labels.EVENT["INSPECTION"]),
    ],
)
def test_every_symbol_has_a_chinese_label(enum, table):
    missing = [s for s in symbols(enum) if s not in table]
    assert missing == [], f"{enum}: no label for {missing}"
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in table[s]) for s in symbols(enum))


def test_one_code_reads_as_its_agency_means_it():
    assert labels.event_cn("ARBITRATION", "ACCEPTED") == "仲裁立案受理"
    assert labels.event_cn("MEDIATION", "ACCEPTED") == "受理调解"
    assert labels.event_cn("COURT", "SOMETHING_NEW") == "SOMETHING_NEW"  # an unknown code shows as it is


@pytest.mark.parametrize(
    "status, shown",
    [
        ("COURT:JUDGMENT", "法院 · 判决"),
        ("MEDIATION:AGREEMENT_PERFORMED", "调解 · 协议已履行"),
        ("MERGED_INTO:CH1", "已并入 CH1"),
        ("", ""),
        ("ODD", "ODD"),
    ],
)
def test_a_case_status_in_chinese(status, shown):
    assert labels.status_cn(status) == shown
