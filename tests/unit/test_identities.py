"""Resident ID checks (item 1 of issue 10): an address code unknown for the birth year is a flag, not a rejection."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from casehub.connectors.adapter import MappedAdapter
from casehub.connectors.mapping import builtin_mappings
from casehub.connectors.rows import map_rows
from casehub.connectors.sample import mediation_rows
from casehub.domain.identities import InvalidIdentifier, Protector, check_id_number, identity_key, merge_identity

NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)

# county codes of several provinces, some older and some younger than the people who carry them
COUNTIES = [
    "210102",  # Liaoning, Shenyang Heping (stdnum: from 1983)
    "110105",  # Beijing, Chaoyang
    "440106",  # Guangdong, Guangzhou Tianhe (from 1985)
    "440305",  # Guangdong, Shenzhen Nanshan (from 1990)
    "510107",  # Sichuan, Chengdu Wuhou (from 1990)
    "500103",  # Chongqing, Yuzhong (from 1997)
    "460105",  # Hainan, Haikou Xiuying (from 2002)
    "410102",  # Henan, Zhengzhou Zhongyuan
    "650102",  # Xinjiang, Urumqi Tianshan
    "130102",  # Hebei, Shijiazhuang Chang'an
]


def with_check(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")  # stdnum wants a placeholder in the check position


def ids():
    for i, county in enumerate(COUNTIES):
        for year in range(1940, 2009, 4):
            yield with_check(f"{county}{year}{(i % 12) + 1:02d}{(year % 28) + 1:02d}{(year * 7 + i) % 1000:03d}")


def test_the_reported_id_is_valid_and_flagged():
    number, known = check_id_number("210102198212312932")
    assert number == "210102198212312932"
    assert known is False  # Heping's code is younger than the person: flagged, not rejected


@pytest.mark.parametrize("number", list(ids()))
def test_valid_ids_of_every_province_and_birth_year_are_accepted(number):
    checked, known = check_id_number(number)
    assert checked == number
    assert known == ric.is_valid(number)  # flagged exactly where stdnum's table does not know the code that year


def test_the_sweep_covers_both_flagged_and_unflagged_ids():
    flags = {check_id_number(n)[1] for n in ids()}
    assert flags == {True, False}


def test_check_character_and_date_still_reject():
    with pytest.raises(InvalidIdentifier, match="check character"):
        check_id_number("210102198212312933")
    with pytest.raises(InvalidIdentifier, match="birth date"):
        check_id_number(with_check("21010219821332293"))


def test_an_address_code_of_no_province_is_rejected():
    with pytest.raises(InvalidIdentifier, match="province"):
        check_id_number(with_check("99010219821231293"))


def test_a_worker_born_before_his_county_code_is_mapped_with_the_flag():
    adapter = MappedAdapter(builtin_mappings()["mediation"], Protector("k"))
    row = {**mediation_rows(1)[0], "sqr_sfzh": "210102198212312932"}
    (outcome,) = map_rows(adapter, [row], NOW)
    assert outcome.error is None, outcome.error
    worker = outcome.mapped.event["parties"][0]
    assert worker["id_address_known"] is False
    assert outcome.mapped.identities[0]["id_number"] == "210102198212312932"
    ordinary = map_rows(adapter, [mediation_rows(1)[0]], NOW)[0].mapped.event["parties"][0]
    assert ordinary["id_address_known"] is True


def _record(agency: str, minute: int, **values) -> dict:
    when = dt.datetime(2026, 5, 1, 8, minute, tzinfo=dt.UTC)
    return {"id_hash": "h", "name": "王伟", "source": {"system": agency}, "recorded_at": when, **values}


RECORDS = [
    _record("mediation", 1, id_number="210102199001011234", address="沈阳市和平区南京街1号", phone=None),
    _record("court", 2, id_number="210102199001011234", address=None, phone="13800000000"),
    _record("arbitration", 3, id_number="210102199001011234", address="沈阳市沈河区青年大街9号", phone=None),
]


@given(st.permutations(RECORDS))
def test_the_identity_book_keeps_each_field_as_last_recorded_in_any_order(records):
    """Each field as most recently recorded by any agency; an agency that keeps no address erases none."""
    merged = None
    for record in records:
        merged = merge_identity(merged, record)
    assert merged["address"] == "沈阳市沈河区青年大街9号" and merged["phone"] == "13800000000"
    assert merged["recorded_at"] == RECORDS[2]["recorded_at"] and merged["source"] == {"system": "arbitration"}


def test_identity_records_of_one_person_from_two_agencies_have_keys_of_their_own():
    """The topic is compacted: one key per person would keep only the latest agency's record (and lose an address)."""
    assert identity_key(RECORDS[0]) != identity_key(RECORDS[1])
    assert identity_key(RECORDS[0]) == identity_key({**RECORDS[0], "address": "elsewhere"}) == b"h|mediation"
