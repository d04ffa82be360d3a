"""Text declared GBK is read as GB 18030 (item 2 of issue 10): a rare character must not lose the row."""

import datetime as dt

import pytest

from casehub.connectors.adapter import MappedAdapter
from casehub.connectors.base import MappingError
from casehub.connectors.mapping import MappingFileError, builtin_mappings, text_encoding
from casehub.connectors.rows import map_rows
from casehub.connectors.samples.court_db import AJ_JBXX
from casehub.connectors.values import RowContext
from casehub.domain.identities import Protector

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
RARE = "刘䶮"  # 䶮 (U+4DAE) is in GB 18030 only: C1 F5 FE 9F


def court_row(**changes) -> dict:
    row = {
        **{c.name: None for c in AJ_JBXX.c},
        "AJID": 7,
        "AH": "（2024）辽0102民初123号",
        "AJLX": "MC",
        "FYDM": "210102",
        "FYMC": "沈阳市和平区人民法院".encode("gbk"),
        "LARQ": "20240301",
        "ARB_NO": None,
        "TJXY_BH": None,
        "AJZT": "LA",
        "XGSJ": "20240301090000",
        "YG_MC": "张三".encode("gbk"),
        "YG_ZJHM": None,
        "YG_LXDH": None,
    }
    row.update(changes)
    return row


@pytest.fixture
def court():
    mapping = builtin_mappings()["court"]
    return MappedAdapter(mapping, Protector("k"))


def test_the_rare_name_is_gb18030_not_gbk():
    assert RARE.encode("gb18030") == bytes.fromhex("c1f5fe9f")
    with pytest.raises(UnicodeDecodeError):
        RARE.encode("gb18030").decode("gbk")


def test_a_gb18030_name_in_a_gbk_source_maps(court):
    row = court_row(YG_MC=RARE.encode("gb18030"))
    (outcome,) = map_rows(court, [row], NOW)
    assert outcome.error is None, outcome.error
    assert outcome.mapped.event["parties"][0]["name"] == RARE


def test_declared_gbk_and_gb2312_decode_as_gb18030(tmp_path):
    assert text_encoding(tmp_path, "gbk") == "gb18030"
    assert text_encoding(tmp_path, "GB2312") == "gb18030"
    assert text_encoding(tmp_path, "utf-8") == "utf-8"
    with pytest.raises(MappingFileError, match="unknown encoding"):
        text_encoding(tmp_path, "klingon")


def test_bytes_that_still_fail_are_a_dead_letter_with_their_hex(court):
    ctx = RowContext(court.mapping, {"YG_MC": b"\xff\xfe\x00"})
    with pytest.raises(MappingError) as err:
        ctx.text("YG_MC")
    assert err.value.kind == "BAD_ENCODING"
    assert "ff fe 00" in err.value.reason
