"""Spreadsheets as small organisations make them are read as the sheet shows them, or dead-lettered with the cell
(item 4 of issue 10): merged cells, formulas without a saved value, IDs typed as numbers, a title row."""

from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import Workbook

from casehub.connectors.adapter import MappedAdapter
from casehub.connectors.intake import IntakeError
from casehub.connectors.mapping import builtin_mappings
from casehub.connectors.rows import map_rows
from casehub.connectors.sample import mediation_rows
from casehub.connectors.spreadsheets import read_table_file
from casehub.domain.identities import Protector

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
ROWS = [dict(r, ajid=str(r["ajid"])) for r in mediation_rows(3, seed=41)]
COLUMNS = list(ROWS[0])


def book_of(rows: list[dict]) -> Workbook:
    book = Workbook()
    sheet = book.active
    sheet.append(COLUMNS)
    for r in rows:
        sheet.append([r[c] for c in COLUMNS])
    return book


def mapped(path):
    adapter = MappedAdapter(builtin_mappings()["mediation"], Protector("k"))
    return map_rows(adapter, read_table_file(path), NOW)


def cell(column: str, row: int) -> str:
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(COLUMNS.index(column) + 1)}{row}"


def test_a_merged_employer_fills_both_rows(tmp_path):
    rows = [dict(ROWS[0]), dict(ROWS[1], bsqr_mc=None, bsqr_xydm=None)]
    book = book_of(rows)
    sheet = book.active
    for column in ("bsqr_mc", "bsqr_xydm"):
        sheet.merge_cells(f"{cell(column, 2)}:{cell(column, 3)}")  # one employer for both workers
    book.save(tmp_path / "merged.xlsx")
    outcomes = mapped(tmp_path / "merged.xlsx")
    assert [o.error for o in outcomes] == [None, None]
    employers = [o.mapped.event["parties"][1] for o in outcomes]
    assert [e["name"] for e in employers] == [ROWS[0]["bsqr_mc"]] * 2
    assert employers[1]["credit_code"] == ROWS[0]["bsqr_xydm"]


def test_a_formula_without_a_saved_value_is_a_dead_letter_with_the_cell(tmp_path):
    book = book_of(ROWS[:2])
    book.active[cell("qqje", 3)] = "=SUM(1000,234)"  # openpyxl writes formulas without a cached value, as many tools do
    book.save(tmp_path / "formula.xlsx")
    good, bad = mapped(tmp_path / "formula.xlsx")
    assert good.error is None
    assert bad.error is not None and bad.error.field == "qqje"
    assert cell("qqje", 3) in bad.error.reason and "formula" in bad.error.reason


def test_an_id_typed_as_an_excel_number_says_so(tmp_path):
    book = book_of(ROWS[:1])
    book.active[cell("sqr_sfzh", 2)] = float(ROWS[0]["sqr_sfzh"])  # what Excel keeps of 210102198506144284
    book.save(tmp_path / "number.xlsx")
    (outcome,) = mapped(tmp_path / "number.xlsx")
    assert outcome.error is not None and outcome.error.field == "sqr_sfzh"
    assert "15 digits" in outcome.error.reason and "check character" not in outcome.error.reason
    assert ROWS[0]["sqr_sfzh"][:6] not in outcome.error.reason


def test_an_id_saved_from_excel_as_scientific_text_says_so(tmp_path):
    path = tmp_path / "number.csv"
    path.write_text(
        ",".join(COLUMNS)
        + "\n"
        + ",".join("2.10102E+17" if c == "sqr_sfzh" else str(ROWS[0][c] or "") for c in COLUMNS)
        + "\n",
        encoding="utf-8",
    )
    (outcome,) = mapped(path)
    assert outcome.error is not None and outcome.error.field == "sqr_sfzh"
    assert "typed as a number" in outcome.error.reason


def test_a_title_row_above_the_header_is_reported_as_such(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["2024年调解案件台账"])
    sheet.append(COLUMNS)
    for r in ROWS:
        sheet.append([r[c] for c in COLUMNS])
    book.save(tmp_path / "titled.xlsx")
    with pytest.raises(IntakeError) as err:
        read_table_file(tmp_path / "titled.xlsx")
    assert "title" in str(err.value) and "row 1" in str(err.value)
    assert "duplicate" not in str(err.value)


def test_an_ordinary_sheet_reads_as_before(tmp_path):
    book_of(ROWS).save(tmp_path / "plain.xlsx")
    assert [o.error for o in mapped(tmp_path / "plain.xlsx")] == [None, None, None]


def test_an_unreadable_cell_goes_through_the_import_as_one_dead_letter(tmp_path):
    import asyncio

    from casehub.connectors.intake import IntakeProcessor
    from casehub.ground.publish import MemoryPublisher
    from casehub.ground.settings import load_settings
    from casehub.schemas.codec import AvroCodec
    from casehub.schemas.registry.memory import MemoryRegistry

    book = book_of(ROWS[:2])
    book.active[cell("qqje", 3)] = "=SUM(1000,234)"
    book.save(tmp_path / "formula.xlsx")
    processor = IntakeProcessor(load_settings({}, hmac_secret="k"), AvroCodec(MemoryRegistry()), MemoryPublisher())
    results = asyncio.run(processor.submit("mediation", read_table_file(tmp_path / "formula.xlsx"), "import"))
    assert [(r["ok"], r.get("field")) for r in results] == [(True, None), (False, "qqje")]
