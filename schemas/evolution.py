"""Released schema versions (schemas/released/<record>/vN.avsc) and the check that the current contract can read them
all.

Rules for changing a schema are in schemas/SCHEMAS.md ("Changing a schema").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from casehub.schemas.compat import check_compatibility
from casehub.schemas.contract import TOPIC_RECORDS, Contract

RELEASED_DIR = Path(__file__).resolve().parent / "released"


@dataclass(frozen=True)
class EvolutionProblem:
    subject: str
    record: str
    version: int
    path: str
    message: str

    def __str__(self) -> str:
        return (
            f"subject {self.subject} ({self.record}): the current schema cannot read released v{self.version}: "
            f"field {self.path}: {self.message}"
        )


def subjects_for(record: str) -> list[str]:
    return [f"{topic}-value" for topic, name in TOPIC_RECORDS.items() if name == record]


def released(record: str, directory: Path = RELEASED_DIR) -> list[tuple[int, dict]]:
    """Released versions of a top-level record, oldest first."""
    folder = directory / record
    versions = []
    for path in folder.glob("v*.avsc"):
        versions.append((int(path.stem[1:]), json.loads(path.read_text(encoding="utf-8"))))
    return sorted(versions, key=lambda v: v[0])


def check(contract: Contract, directory: Path = RELEASED_DIR) -> list[EvolutionProblem]:
    """Problems reading any released version with the current schema (BACKWARD_TRANSITIVE)."""
    problems = []
    for record in sorted(set(TOPIC_RECORDS.values())):
        current = contract.expanded(record)
        for version, old in released(record, directory):
            for p in check_compatibility(current, old):
                for subject in subjects_for(record):
                    problems.append(EvolutionProblem(subject, record, version, p.path, p.message))
    return problems


def _canonical(schema: dict) -> str:
    return json.dumps(schema, sort_keys=True, ensure_ascii=False)


def release(contract: Contract, directory: Path = RELEASED_DIR) -> list[Path]:
    """Write a new version for every record whose current schema differs from its latest release.

    Raises:
        ValueError: the current contract cannot read a released version (nothing is written).
    """
    problems = check(contract, directory)
    if problems:
        raise ValueError("incompatible change, not released:\n" + "\n".join(map(str, problems)))
    written = []
    for record in sorted(set(TOPIC_RECORDS.values())):
        current = contract.expanded(record)
        versions = released(record, directory)
        if versions and _canonical(versions[-1][1]) == _canonical(current):
            continue
        number = versions[-1][0] + 1 if versions else 1
        path = directory / record / f"v{number}.avsc"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(current, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def unreleased(contract: Contract, directory: Path = RELEASED_DIR) -> list[str]:
    """Records whose current schema is not yet released (a reminder, not an error)."""
    out = []
    for record in sorted(set(TOPIC_RECORDS.values())):
        versions = released(record, directory)
        if not versions or _canonical(versions[-1][1]) != _canonical(contract.expanded(record)):
            out.append(record)
    return out
