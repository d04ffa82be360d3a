"""Spreadsheets small mediation organisations keep (.xlsx, .csv) read as rows keyed by their header.

A row is read as the sheet shows it: a merged cell's value fills every cell of its range (the second
row of a merged employer keeps its employer). A cell that cannot be read as shown, a formula whose value
was never saved or a long number Excel has already cut to 15 digits, becomes an Unreadable value, which
dead-letters its row naming the column and the cell; nothing is published altered.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from casehub.connectors.base import Unreadable
from casehub.connectors.intake import IntakeError

EXCEL_DIGITS = 15  # Excel keeps 15 significant digits of a number: an 18-digit ID typed as a number is altered


def _cell(value, address: str):
    """An xlsx cell as the text a database would hold: 123.0 (Excel stores numbers as floats) is "123"."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not value.is_integer():
            return format(value, ".15g")  # as Excel shows it: 0.1 + 0.2 is 0.3 on the sheet
        digits = len(str(abs(int(value))))
        if digits > EXCEL_DIGITS:
            return Unreadable(
                f"cell {address} holds a {digits}-digit number (shown as {value:.5E}); Excel keeps only "
                f"{EXCEL_DIGITS} digits, so an ID number typed as a number has lost its last digits: format the "
                "column as text and type the value again"
            )
        return str(int(value))
    return str(value)


def _xlsx_rows(path: Path, sheet: str | None) -> list[list]:
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    try:
        # twice: the saved values, and the formulas (a formula whose value was never saved reads as None)
        values = load_workbook(path, data_only=True)
        formulas = load_workbook(path, data_only=False)
    except Exception as exc:  # openpyxl raises several types for a broken file
        raise IntakeError(f"{path}: not a readable xlsx workbook: {exc}") from exc
    try:
        ws, wf = (values[sheet], formulas[sheet]) if sheet else (values.worksheets[0], formulas.worksheets[0])
    except KeyError as exc:
        raise IntakeError(f"{path}: no sheet named {sheet!r}; sheets: {', '.join(values.sheetnames)}") from exc
    grid = [list(r) for r in ws.iter_rows(values_only=True)]
    for r, row in enumerate(wf.iter_rows(), start=1):
        for c, cell in enumerate(row, start=1):
            if cell.data_type == "f" and grid[r - 1][c - 1] is None:
                grid[r - 1][c - 1] = Unreadable(
                    f"cell {get_column_letter(c)}{r} holds the formula {cell.value} with no saved value (the file "
                    "was not saved by Excel after the formula was entered): open it in Excel, save, and import again"
                )
    # merged ranges: the sheet shows the top-left value across the whole range
    for merged in ws.merged_cells.ranges:
        top = grid[merged.min_row - 1][merged.min_col - 1]
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                grid[r - 1][c - 1] = top
    return [
        [v if isinstance(v, Unreadable) else _cell(v, f"{get_column_letter(c)}{r}") for c, v in enumerate(row, 1)]
        for r, row in enumerate(grid, start=1)
    ]


def _text(value) -> str:
    return "" if isinstance(value, Unreadable) else value.strip()


def read_table_file(path: Path, encoding: str = "utf-8-sig", sheet: str | None = None) -> list[dict]:
    """Rows of an .xlsx or .csv file as dicts keyed by the header row (values as text, empty cells None).

    Raises:
        IntakeError: unreadable file, wrong encoding (names the suggestion), a title row above the header, or no
            header.
    """
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(path, sheet)
    elif path.suffix.lower() == ".csv":
        data = path.read_bytes()
        if encoding.replace("-", "").lower() in ("gbk", "gb2312", "cp936"):
            encoding = "gb18030"  # the national standard, a superset of GBK: rare characters in names decode too
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise IntakeError(
                f"{path}: not {encoding} text (byte {exc.start}); if it was saved by Excel in China, try --encoding gbk"
            ) from exc
        rows = list(csv.reader(io.StringIO(text)))
    else:
        raise IntakeError(f"{path}: only .xlsx and .csv files are imported")
    numbered = [(i, r) for i, r in enumerate(rows, start=1) if any(_text(c) for c in r)]
    if not numbered:
        raise IntakeError(f"{path}: empty file")
    (header_at, header), body = numbered[0], numbered[1:]
    filled = [_text(h) for h in header if _text(h)]
    widest = max((sum(1 for c in r if _text(c)) for _, r in body[:20]), default=0)
    if len(filled) == 1 and widest > 1:
        raise IntakeError(
            f"{path}: row {header_at} holds only {filled[0]!r}, a title above the table, not the header row of column "
            "names: delete the title row (the first row must be the column names) and import again"
        )
    names = [_text(h) for h in header]
    duplicates = sorted({n for n in names if n and names.count(n) > 1})
    if duplicates:
        raise IntakeError(f"{path}: row {header_at}: duplicate column names in the header: {duplicates}")
    out = []
    for _, r in body:
        record = {}
        for h, c in zip(names, r):
            if not h:
                continue  # a column without a name (e.g. notes beside the table)
            record[h] = c if isinstance(c, Unreadable) else (c.strip() or None)
        out.append(record)
    return out
