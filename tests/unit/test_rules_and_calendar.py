"""The configurable rules and the holiday calendar: official arrangements, the weekday fallback and its note,
and rules files that name unknown keys."""

from __future__ import annotations

import datetime as dt

import pytest

from casehub.domain.calendar import CalendarError, default_calendar, parse_calendar
from casehub.domain.deadlines import deadlines
from casehub.domain.rules import CaseRules, RulesError, rules_from


def test_working_days_skip_the_official_holidays_and_count_adjusted_working_days():
    cal = default_calendar()
    # from Friday 27 September 2024: Sunday 29 September is worked, 1-7 October are off
    assert cal.add_working_days(dt.date(2024, 9, 27), 5) == (dt.date(2024, 10, 10), [])
    assert cal.is_working_day(dt.date(2026, 2, 14)) and not cal.is_working_day(dt.date(2026, 2, 16))


def test_a_year_without_data_counts_weekdays_and_says_so():
    due, unknown = default_calendar().add_working_days(dt.date(2026, 12, 30), 5)
    assert due == dt.date(2027, 1, 6) and unknown == [2027]


def test_a_deadline_across_a_year_without_data_carries_a_note():
    received = {
        "event_id": "i:1",
        "event_type": "COMPLAINT_RECEIVED",
        "occurred_at": dt.datetime(2026, 12, 29, 2, tzinfo=dt.UTC),
        "source": {"system": "insp", "record_id": "1"},
    }
    span = {"kind": "INSPECTION", "ended_at": None}
    (d,) = deadlines([(span, "INSPECTION", [received])], [], {}, CaseRules(), dt.date(2026, 12, 30))
    assert d["kind"] == "INSPECTION_ACCEPT_5_WORKDAYS" and d["state"] == "RUNNING" and d["working_days"]
    assert d["note"].startswith("no holiday calendar for 2027")


@pytest.mark.parametrize(
    "text, message",
    [
        ("[2024]\noff = ['2024-02-30']\n", "is not a date"),
        ("[2024]\noff = ['2025-01-01']\n", "is not in 2024"),
        ("[holidays]\noff = []\n", "not a year table"),
    ],
)
def test_a_broken_holiday_file_names_the_entry(text, message):
    with pytest.raises(CalendarError, match=message):
        parse_calendar(text)


def test_a_rules_file_overrides_defaults_and_refuses_unknown_keys():
    rules = rules_from(
        {
            "party_match": {"window_days": 90},
            "periods": {"arbitration_award_days": 40},
            "authority": {"amounts.awarded": ["ARBITRATION", "COURT"]},
        }
    )
    assert rules.party_match.window_days == 90 and rules.periods.arbitration_award_days == 40
    assert rules.authority["amounts.awarded"] == ("ARBITRATION", "COURT")
    with pytest.raises(RulesError, match="unknown key 'window'"):
        rules_from({"party_match": {"window": 90}})
    with pytest.raises(RulesError, match=r"\[periods\] mediation_days must be a int"):
        rules_from({"periods": {"mediation_days": "15"}})
    with pytest.raises(RulesError, match="unknown table"):
        rules_from({"linking": {}})
