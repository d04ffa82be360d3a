"""Loads the roster of mediation organisations (a TOML file, or a CSV spreadsheet with mediators.csv beside it) and
the court directory (TOML) named by the settings (docs/CONFIRMATION.md) into casehub.domain.directory's plain data."""

from __future__ import annotations

import csv
import io
import time
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
    except UnicodeDecodeError as exc:
        raise DirectoryError(f"not UTF-8 text (TOML files are UTF-8; saved as GBK?): byte {exc.start}") from exc


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


class ReferenceWatch:
    """The roster and court directory of a running process, read again when a file changes, so an operator's edit
    (an organisation added after the operator page listed it as missing, a court's new endpoint) takes effect
    without a restart.

    A change is read once the files have stayed the same for one look (not while an editor is still writing them).
    What would do harm is refused, logged, and the data in use stay: a file that does not load, a file removed, or
    a roster or directory that is suddenly empty (it would withdraw every request not sent yet).

    Args:
        every: seconds between looks at the files' modification times and sizes.
    """

    def __init__(self, settings, log, every: float = 5.0, clock=time.monotonic):
        self.settings, self.log, self.every, self.clock = settings, log, every, clock
        roster = Path(settings.roster_path)
        self.paths = (roster, Path(settings.court_directory_path))
        if roster.suffix.lower() == ".csv":
            self.paths += (roster.with_name(MEDIATORS_CSV),)
        self.stamp = self.seen = self._stamp()
        self.ref = load_reference(settings)
        self.next = clock() + every

    def _stamp(self) -> tuple:
        stamps = []
        for path in self.paths:
            try:
                st = path.stat()
                stamps.append((st.st_mtime_ns, st.st_size))
            except OSError:  # not there (or not now)
                stamps.append(None)
        return tuple(stamps)

    def changed(self) -> bool:
        """Look at the files (at most every `every` seconds); True when the reference data in use changed."""
        if self.clock() < self.next:
            return False
        self.next = self.clock() + self.every
        try:
            return self._look()
        except Exception as exc:  # a process that serves on must not end over an edit
            self.log.error("roster or court directory not read again", error=f"{type(exc).__name__}: {exc}")
            return False

    def _look(self) -> bool:
        stamp = self._stamp()
        if stamp == self.stamp:
            self.seen = stamp
            return False
        if stamp != self.seen:  # changed since the last look: perhaps still being written; read it next time
            self.seen = stamp
            return False
        self.stamp = stamp
        try:
            ref = load_reference(self.settings)
        except (DirectoryError, OSError) as exc:
            self.log.error("roster or court directory changed but does not load: the data in use stay", error=str(exc))
            return False
        if ref is None:
            self.log.error(
                "roster or court directory file gone: the data in use stay", files=[str(p) for p in self.paths]
            )
            return False
        if self.ref is not None and (not ref.roster.organisations or not ref.directory.courts):
            self.log.error(
                "roster or court directory changed to empty: the data in use stay (an empty one would withdraw every "
                "request not sent yet; restart the hub to start from empty files)"
            )
            return False
        if ref == self.ref:
            return False
        self.ref = ref
        self.log.info(
            "roster or court directory changed",
            organisations=len(ref.roster.organisations),
            courts=len(ref.directory.courts),
        )
        return True
