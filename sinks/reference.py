"""Loads the roster of mediation organisations (a TOML file, or a CSV spreadsheet with mediators.csv beside it) and
the court directory (TOML) named by the settings (docs/CONFIRMATION.md) into casehub.domain.directory's plain data."""

from __future__ import annotations

import csv
import io
import tomllib
from pathlib import Path

from casehub.domain.directory import DirectoryError, ReferenceData, directory_from, roster_doc_from_rows, roster_from

MEDIATORS_CSV = "mediators.csv"  # beside a CSV roster: its mediators (code, name, organisation)


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise DirectoryError(f"not valid TOML: {exc}") from exc


def _rows(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """A CSV file's header and rows with their line numbers: UTF-8 (with or without Excel's byte-order mark), or
    GB 18030 (what Excel on a Chinese Windows saves as "CSV"; its superset of GBK and GB 2312)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise DirectoryError(f"{path}: neither UTF-8 nor GB 18030 text (byte {exc.start})") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = []
    for row in reader:
        if any((v or "").strip() for v in row.values() if isinstance(v, str)):  # blank lines carry nothing
            if None in row:
                raise DirectoryError(f"{path}: line {reader.line_num} has more cells than the header has columns")
            rows.append((reader.line_num, row))
    return list(reader.fieldnames or []), rows


def load_roster(path: Path):
    """The roster file: TOML ([[organisation]], [[mediator]]) or CSV (one organisation a row; mediators from
    mediators.csv in the same folder, when there is one).

    Raises:
        DirectoryError: the file's problem, naming the file (and the line of a CSV).
    """
    try:
        if path.suffix.lower() == ".csv":
            mediators = path.with_name(MEDIATORS_CSV)
            doc = roster_doc_from_rows(_rows(path), _rows(mediators) if mediators.exists() else None)
        else:
            doc = _read(path)
        return roster_from(doc)
    except DirectoryError as exc:
        raise DirectoryError(f"{path}: {exc}") from exc


def load_reference(settings) -> ReferenceData | None:
    """The roster and court directory, or None when either file is missing (no requests are built then).

    An endpoint may say `{court_sim_url}`: it stands for the local court simulator (`casehub court-sim`).

    Raises:
        DirectoryError: a file exists but an entry is wrong (the message names the file and the entry).
    """
    roster_path, directory_path = Path(settings.roster_path), Path(settings.court_directory_path)
    if not (roster_path.exists() and directory_path.exists()):
        return None
    roster = load_roster(roster_path)
    try:
        doc = _read(directory_path)
        for court in doc.get("court", []) if isinstance(doc.get("court"), list) else []:
            if isinstance(court, dict) and isinstance(court.get("endpoint"), str):
                court["endpoint"] = court["endpoint"].replace("{court_sim_url}", settings.court_sim_url)
        directory = directory_from(doc)
    except DirectoryError as exc:
        raise DirectoryError(f"{directory_path}: {exc}") from exc
    return ReferenceData(roster, directory)
