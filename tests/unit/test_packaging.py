"""The wheel holds one package, casehub, with every module of the top-level folders and the data files it needs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINKED = ("connectors", "streams", "sinks", "schemas")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (path,) = out.glob("casehub-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_holds_only_the_casehub_package(wheel):
    names = wheel.namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"casehub", next(t for t in top if t.endswith(".dist-info"))}, top
    assert next(n for n in names if n.endswith("top_level.txt")) and wheel.read(
        next(n for n in names if n.endswith("top_level.txt"))
    ).decode().split() == ["casehub"]


def test_every_module_and_data_file_of_the_linked_folders_is_in_the_wheel(wheel):
    names = set(wheel.namelist())
    expected = set()
    for folder in LINKED:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".toml", ".avsc"):
                expected.add("casehub/" + path.relative_to(ROOT).as_posix())
    for path in (ROOT / "casehub").rglob("*.py"):
        if not any(part in LINKED for part in path.relative_to(ROOT / "casehub").parts[:1]):
            expected.add(path.relative_to(ROOT).as_posix())
    assert not expected - names, sorted(expected - names)
    assert "casehub/connectors/mappings/mediation.toml" in names
    assert "casehub/schemas/avro/cn.casehub.CaseRecord.avsc" in names
    assert any(n.startswith("casehub/schemas/released/cn.casehub.CaseRecord/") for n in names)
    # the case view's templates and migrations (Alembic reads them from the installed package)
    assert {"casehub/sinks/templates/case.html", "casehub/sinks/migrations/env.py"} <= names
    assert "casehub/sinks/migrations/versions/0001_case_view.py" in names


def test_the_installed_command_points_at_the_run_layer(wheel):
    entry_points = next(n for n in wheel.namelist() if n.endswith("entry_points.txt"))
    assert "casehub = casehub.run.cli:main" in wheel.read(entry_points).decode()
