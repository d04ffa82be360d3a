"""Spreadsheets small mediation organisations keep (.xlsx, .csv) read as rows keyed by their header."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from casehub.connectors.intake import IntakeError


def _cell(value) -> str:
    """An xlsx cell as the text a database would hold: 123.0 (Excel stores numbers as floats) is "123"."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_table_file(path: Path, encoding: str = "utf-8-sig", sheet: str | None = None) -> list[dict]:
    """Rows of an .xlsx or .csv file as dicts keyed by the header row (values as text, empty cells None).

    Raises:
        IntakeError: unreadable file, wrong encoding (names the suggestion), or no header.
    """
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises several types for a broken file
            raise IntakeError(f"{path}: not a readable xlsx workbook: {exc}") from exc
        ws = book[sheet] if sheet else book.worksheets[0]
        rows = [[_cell(v) for v in r] for r in ws.iter_rows(values_only=True)]
    elif path.suffix.lower() == ".csv":
        data = path.read_bytes()
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise IntakeError(
                f"{path}: not {encoding} text (byte {exc.start}); if it was saved by Excel in China, try --encoding gbk"
            ) from exc
        rows = list(csv.reader(io.StringIO(text)))
    else:
        raise IntakeError(f"{path}: only .xlsx and .csv files are imported")
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise IntakeError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise IntakeError(f"{path}: duplicate column names in the header: {header}")
    return [{h: (c.strip() or None) for h, c in zip(header, r)} for r in rows[1:]]
