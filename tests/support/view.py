"""A case record with one mediation agreement and the roster and court directory that make it eligible for
judicial confirmation: for the case view's, the web API's and the relay's tests."""

from __future__ import annotations

import datetime as dt

from casehub.domain.directory import CourtDirectory, CourtEntry, Organisation, ReferenceData, Roster
from tests.support.events import EVENTS, fold

UTC = dt.UTC

ROSTER = Roster((Organisation("MO-1", "和平区劳动人事争议调解中心", "REGIONAL", "210102", True),))
COURTS = CourtDirectory(
    (
        CourtEntry(
            "辽0102",
            "沈阳市和平区人民法院",
            "BASIC",
            ("210102",),
            "http",
            "http://127.0.0.1:9/courts/辽0102/confirmations",
        ),
    )
)
REF = ReferenceData(ROSTER, COURTS)


def agreement_case(version: int, consent: bool = True, effective: dt.date = dt.date(2026, 11, 20)) -> dict:
    """The case of tests.support.events.EVENTS with one agreement (effective date given) of a roster organisation."""
    case = fold(EVENTS)
    case["version"] = version
    case["division_code"] = "210102"
    case["parties"] = [
        {**p, "id_masked": "2101**********123X"} if p["role"] == "WORKER" else p for p in case["parties"]
    ]
    case["agreements"] = [
        {
            "agreement": {
                "number": "A1",
                "agreement_kind": "MEDIATION_AGREEMENT",
                "signed_at": dt.datetime(2026, 11, 20, tzinfo=UTC),
                "effective_date": effective,
                "confirmation_consent_worker": consent,
                "confirmation_consent_employer": consent,
            },
            "organisation": {"name": "和平区劳动人事争议调解中心", "kind": "REGIONAL", "division_code": "210102"},
            "system": "sys",
            "record_id": "3",
            "event_id": "sys:3",
            "performance": "PENDING",
            "followed_by": [],
        }
    ]
    return case
