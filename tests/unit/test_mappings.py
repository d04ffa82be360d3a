"""The four reference mappings against the four sample databases: every good row maps and fits the Avro contract,
every injected bad row is caught with its field; broken mapping files are refused with the key named."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from casehub.connectors.adapter import MappedAdapter
from casehub.connectors.mapping import MappingFileError, builtin_mappings, load_mapping
from casehub.connectors.rows import map_rows
from casehub.connectors.samples.databases import create_sample_databases, inject_bad_rows
from casehub.domain.identities import Protector
from casehub.ground.settings import load_settings
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.memory import MemoryRegistry

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
MAPPINGS = builtin_mappings()


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("samples")
    create_sample_databases(out, 80, seed=3)
    return out


def outcomes(sample_dir: Path, name: str):
    mapping = MAPPINGS[name]
    engine = sa.create_engine(f"sqlite:///{sample_dir / (mapping.database + '.db')}")
    adapter = MappedAdapter(mapping, Protector("k")).bind(engine)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(adapter.table))]
        adapter.attach_related(conn, rows)
    engine.dispose()
    return adapter, rows, map_rows(adapter, rows, NOW)


def test_the_four_reference_mappings_exist():
    assert {m.agency for m in MAPPINGS.values()} == {"MEDIATION", "ARBITRATION", "COURT", "INSPECTION"}


@pytest.mark.parametrize("name", sorted(MAPPINGS))
def test_every_sample_row_maps_and_fits_the_contract(sample_dir, name):
    adapter, rows, results = outcomes(sample_dir, name)
    assert rows
    errors = [(o.record_id, o.error) for o in results if o.error]
    assert not errors
    codec = AvroCodec(MemoryRegistry())
    topic = load_settings({}).topics.for_agency(adapter.agency)
    for o in results:
        event = o.mapped.event
        assert codec.decode(codec.encode(topic, event))["event_id"] == event["event_id"]
        assert event["refs"], "every event carries at least its own case number"
        for party in event["parties"]:
            assert "id_number" not in party and "phone" not in party


def test_gbk_court_names_are_decoded(sample_dir):
    adapter, rows, results = outcomes(sample_dir, "court")
    row, result = rows[0], results[0]
    assert result.mapped.event["parties"][0]["name"] == row["YG_MC"].decode("gbk")
    assert result.mapped.event["court"]["name"] == row["FYMC"].decode("gbk")


def test_references_across_agencies_are_kept(sample_dir):
    _, _, results = outcomes(sample_dir, "arbitration")
    kinds = {r["kind"] for o in results for r in o.mapped.event["refs"]}
    assert {"ARBITRATION", "MEDIATION"} <= kinds


def test_every_injected_bad_row_is_caught_with_its_field(tmp_path):
    create_sample_databases(tmp_path, 20, seed=5)
    injected = inject_bad_rows(tmp_path)
    caught = {}
    for name in MAPPINGS:
        _, _, results = outcomes(tmp_path, name)
        caught.update({(name, o.record_id): o.error for o in results if o.error})
    for bad in injected:
        error = caught.get((bad["system"], bad["record_id"]))
        assert error is not None, f"not caught: {bad}"
        assert error.field == bad["field"], (bad, error)
    assert len(caught) == len(injected)


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = """[source]
name = "x"
system = "s"
agency = "MEDIATION"
table = "t"
primary_key = "id"
cursor = "ts"
[event]
type = { column = "zt", type = "code", codes = "status" }
occurred_at = { column = "ts", type = "time" }
[codes.status]
"1" = "APPLIED"
"""


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: t.replace('agency = "MEDIATION"', 'agency = "POLICE"'), "agency 'POLICE'"),
        (lambda t: t.replace('codes = "status"', 'codes = "nope"'), "event.type: code table 'nope'"),
        (lambda t: t.replace('type = "time"', 'type = "timestamp"'), "event.occurred_at: unknown type 'timestamp'"),
        (lambda t: t.replace('cursor = "ts"\n', ""), "[source] needs `cursor`"),
        (lambda t: t + "[[parties]]\nname = 5\n", "parties[0].name"),
        # a misspelt key was read as nothing at all: the address never reached a court
        (lambda t: t + '[[parties]]\nname = "n"\nadress = "zz"\n', "parties[0]: unknown key 'adress'"),
        (lambda t: t + "[source.x\n", "m.toml"),
    ],
)
def test_broken_mapping_files_name_the_key(tmp_path, change, message):
    with pytest.raises(MappingFileError) as err:
        load_mapping(write(tmp_path, change(BASE)))
    assert message in str(err.value)


def test_a_minimal_mapping_loads(tmp_path):
    assert load_mapping(write(tmp_path, BASE)).name == "x"


def test_group_disputes_carry_every_worker(sample_dir):
    _, rows, results = outcomes(sample_dir, "arbitration")
    groups = [o.mapped for o in results if o.mapped.event["group_dispute"]]
    assert groups, "the sample has group disputes"
    for mapped in groups:
        workers = [p for p in mapped.event["parties"] if p["role"] == "WORKER"]
        assert len(workers) >= 10 and len(workers) == mapped.event["worker_count"]
        assert len({w["id_hash"] for w in workers}) == len(workers)  # the representative is not counted twice
        assert len(mapped.identities) == len(workers)  # each worker's full identity goes to the restricted topic only


FLAGS = (
    BASE
    + """
[[parties]]
role = "WORKER"
party_type = "PERSON"
name = "name"
migrant_worker = "migrant"

[[related]]
name = "workers"
table = "t_worker"
foreign_key = "case_id"

[[related.parties]]
role = "WORKER"
party_type = "PERSON"
name = "name"
migrant_worker = "migrant"
"""
)


@pytest.mark.parametrize("written, expected", [("0", False), ("1", True), ("", False), ("是", True), ("N", False)])
def test_a_flag_written_as_a_column_name_means_the_same_for_main_and_related_parties(tmp_path, written, expected):
    # a flag spec given as a bare column name is read as a yes/no value wherever the party is declared
    from casehub.connectors.events import map_with
    from casehub.domain.identities import Protector

    mapping = load_mapping(write(tmp_path, FLAGS))
    row = {
        "id": 1,
        "ts": "2024-03-01T09:00:00",
        "zt": "1",
        "name": "王伟",
        "migrant": written,
        "_related": {"workers": [{"case_id": 1, "name": "李娜", "migrant": written}]},
    }
    parties = map_with(mapping, Protector("k"), row, NOW).event["parties"]
    assert [(p["name"], p.get("migrant_worker")) for p in parties] == [("王伟", expected), ("李娜", expected)]
