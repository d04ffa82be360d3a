"""Value conversions with fast paths (local-time text, yuan amounts, the size check) give exactly what the general
path gives."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casehub.connectors.values import _time_converter

# zones with daylight saving (Shanghai kept it 1986-1991), a half-hour shift (Lord Howe) and none
ZONES = [
    ZoneInfo(z) for z in ("Asia/Shanghai", "America/New_York", "Australia/Lord_Howe", "Europe/London", "Asia/Kolkata")
]


class Ctx:
    def __init__(self, tz):
        self.tz = tz


@pytest.mark.parametrize("fmt, sep", [("%Y-%m-%d %H:%M:%S", " "), ("iso", " "), ("iso", "T")])
@given(
    local=st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
        lambda t: t.replace(microsecond=0, fold=0)  # text carries no fold: an ambiguous local time reads as the first
    ),
    tz=st.sampled_from(ZONES),
)
def test_local_text_gives_the_instant_the_zone_gives(fmt, sep, local, tz):
    value = _time_converter(fmt)(Ctx(tz), local.isoformat(sep=sep))
    assert value == local.replace(tzinfo=tz).astimezone(dt.UTC)
    assert value.tzinfo is dt.UTC


def test_days_with_a_transition_take_the_zone_for_every_time():
    tz, convert = ZoneInfo("America/New_York"), _time_converter("%Y-%m-%d %H:%M:%S")
    for text, expected_utc in (
        ("2024-03-10 01:59:59", "2024-03-10 06:59:59"),
        ("2024-03-10 03:00:00", "2024-03-10 07:00:00"),
        ("2024-11-03 00:30:00", "2024-11-03 04:30:00"),
        ("2024-11-03 23:00:00", "2024-11-04 04:00:00"),
    ):
        assert convert(Ctx(tz), text) == dt.datetime.fromisoformat(expected_utc).replace(tzinfo=dt.UTC), text


def test_iso_forms_that_are_not_calendar_dates_take_the_zone_path():
    tz = ZONES[1]
    text = "2024-W10T02:30:00.1"  # an ISO week date: 19 characters, but its first ten are no date
    assert _time_converter("iso")(Ctx(tz), text) == dt.datetime.fromisoformat(text).replace(tzinfo=tz).astimezone(
        dt.UTC
    )


def test_malformed_text_still_fails_with_the_parsers_own_message():
    with pytest.raises(ValueError, match=r"^month must be in 1\.\.12$"):
        _time_converter("%Y-%m-%d %H:%M:%S")(Ctx(ZONES[0]), "2024-13-01 00:00:00")


@given(
    st.text(alphabet="0123456789.,-+eE １", max_size=14)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
    | st.integers(0, 10**40).map(str)
    | st.tuples(st.integers(0, 10**30), st.integers(0, 99)).map(lambda t: f"{t[0]}.{t[1]:02d}")
)
def test_yuan_amounts_read_as_decimal_would(text):
    import decimal

    from casehub.connectors.values import yuan_to_fen

    try:
        with decimal.localcontext() as exact:
            exact.prec = 200  # the oracle itself must not round
            amount = decimal.Decimal(text.replace(",", ""))
            fen = amount * 100
    except (decimal.InvalidOperation, ValueError) as exc:
        with pytest.raises(type(exc)):
            yuan_to_fen(text)
        return
    # not a number, finer than one fen, or beyond decimal's 28 digits: refused, never rounded
    # (digits counted with adjusted(), not str(int(...)): '1E5000' is past Python's int-to-str limit)
    if not fen.is_finite() or fen != fen.to_integral_value() or (fen != 0 and fen.adjusted() >= 28):
        with pytest.raises((ValueError, decimal.InvalidOperation)):
            yuan_to_fen(text)
        return
    assert yuan_to_fen(text) == int(fen)


@pytest.mark.parametrize("text", ["12345.678", "0.001", "1.005", "1e-3"])
def test_an_amount_finer_than_one_fen_is_refused_not_rounded(text):
    from casehub.connectors.values import yuan_to_fen

    with pytest.raises(ValueError, match="finer than one fen"):
        yuan_to_fen(text)


def test_an_amount_finer_than_one_fen_is_a_dead_letter_naming_the_column():
    import datetime as dt

    from casehub.connectors.adapter import MappedAdapter
    from casehub.connectors.mapping import builtin_mappings
    from casehub.connectors.rows import map_rows
    from casehub.connectors.sample import mediation_rows
    from casehub.domain.identities import Protector

    adapter = MappedAdapter(builtin_mappings()["mediation"], Protector("k"))
    row = {**mediation_rows(1)[0], "qqje": "12345.678"}
    (outcome,) = map_rows(adapter, [row], dt.datetime.now(dt.UTC))
    assert outcome.error is not None and outcome.error.field == "qqje"
    assert "finer than one fen" in outcome.error.reason
    good = map_rows(adapter, [{**row, "qqje": "12345.60"}], dt.datetime.now(dt.UTC))[0]
    assert good.mapped.event["claims"][0]["amount"]["amount_fen"] == 1234560


@pytest.mark.parametrize("raw, expected", [(1234, 1234), ("1234", 1234), (1234.0, 1234), ("12.00", 12)])
def test_amounts_in_fen_are_whole(raw, expected):
    from casehub.connectors.values import whole_fen

    assert whole_fen(raw) == expected


@pytest.mark.parametrize("raw", [12.5, "12.5", "0.1"])
def test_a_fraction_of_a_fen_is_refused(raw):
    from casehub.connectors.values import whole_fen

    with pytest.raises(ValueError, match="whole number of fen"):
        whole_fen(raw)


@pytest.mark.parametrize(
    "row, field",
    [
        ({"id": 1, "note": "x" * 4001, "n": None}, "note"),
        ({"id": 1, "note": "短", "blob": "长".encode("gbk") * 2001}, "blob"),  # undecoded GBK text counts in bytes
        ({"id": 1, "_related": {"workers": [{"name": "王", "memo": "y" * 4001}]}}, "memo"),
    ],
)
def test_oversized_text_is_named_wherever_it_is(row, field):
    from casehub.connectors.base import MappingError
    from casehub.connectors.rows import check_row

    with pytest.raises(MappingError) as caught:
        check_row(row)
    assert (caught.value.field, caught.value.kind) == (field, "OVERSIZED")


def test_ordinary_rows_pass_the_size_check():
    from casehub.connectors.rows import check_row

    check_row(
        {
            "id": 1,
            "note": "x" * 4000,
            "n": None,
            "amount": 1.5,
            "blob": b"ab",
            "_related": {"workers": [{"name": "王"}]},
        }
    )
