"""Loads the roster of mediation organisations and the court directory named by the settings (TOML files; see
docs/CONFIRMATION.md) into casehub.domain.directory's plain data."""

from __future__ import annotations

import tomllib
from pathlib import Path

from casehub.domain.directory import DirectoryError, ReferenceData, directory_from, roster_from


def _read(path: Path, what: str) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise DirectoryError(f"{what} {path}: not valid TOML: {exc}") from exc


def load_reference(settings) -> ReferenceData | None:
    """The roster and court directory, or None when either file is missing (no requests are built then).

    An endpoint may say `{court_sim_url}`: it stands for the local court simulator (`casehub court-sim`).

    Raises:
        DirectoryError: a file exists but an entry is wrong (the message names the file and the entry).
    """
    roster_path, directory_path = Path(settings.roster_path), Path(settings.court_directory_path)
    if not (roster_path.exists() and directory_path.exists()):
        return None
    roster = roster_from(_read(roster_path, "roster"))
    doc = _read(directory_path, "court directory")
    for court in doc.get("court", []):
        if isinstance(court.get("endpoint"), str):
            court["endpoint"] = court["endpoint"].replace("{court_sim_url}", settings.court_sim_url)
    try:
        directory = directory_from(doc)
    except DirectoryError as exc:
        raise DirectoryError(f"{directory_path}: {exc}") from exc
    return ReferenceData(roster, directory)
