"""The roster and court directory files as an integrator writes them (docs/CONFIRMATION.md): the roster as TOML or as
a spreadsheet saved to CSV (Chinese headers, GB 18030 from Excel, 是/否, Chinese kind names, mediators.csv beside
it) gives the same roster; a wrong file is refused with the file, the line or entry, and the field named."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from casehub.domain.directory import DirectoryError
from casehub.ground.settings import load_settings
from casehub.sinks.reference import load_reference, load_roster

ROSTER_TOML = """
[[organisation]]
code = "MO-210102-0001"
name = "和平区南市场街道劳动争议调解委员会"
kind = "TOWNSHIP_STREET"
division_code = "210102"
lawfully_established = true
contact = "024-23456789"

[[organisation]]
code = "MO-210103-0002"
name = "沈河区华锐建筑企业劳动争议调解委员会"
kind = "ENTERPRISE_COMMITTEE"
division_code = "210103"
credit_code = "91210103MA0000000X"

[[mediator]]
code = "M-0001"
name = "王建华"
organisation = "MO-210102-0001"
"""
# the same roster as a clerk keeps it in Excel and saves it as CSV (GB 18030), with a blank line at the end
ROSTER_CSV = (
    "代码,名称,类型,行政区划代码,依法设立,统一社会信用代码,联系电话\r\n"
    "MO-210102-0001,和平区南市场街道劳动争议调解委员会,乡镇街道调解组织,２１０１０２,是,,024-23456789\r\n"
    "MO-210103-0002,沈河区华锐建筑企业劳动争议调解委员会,企业劳动争议调解委员会,210103,否,91210103MA0000000X,\r\n"
    ",,,,,,\r\n"
)
MEDIATORS_CSV = "\ufeffcode,name,organisation\nM-0001,王建华,MO-210102-0001\n"  # UTF-8 with Excel's BOM
COURTS_TOML = """
order = ["party_domicile", "subject_matter", "organisation"]
[[court]]
code = "辽0102"
name = "沈阳市和平区人民法院"
divisions = ["210102"]
endpoint = "http://127.0.0.1:9/x"
"""


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def test_a_csv_roster_saved_from_excel_is_the_same_roster_as_the_toml(tmp_path):
    as_toml = load_roster(write(tmp_path, "roster.toml", ROSTER_TOML))
    sheet = tmp_path / "sheet"
    sheet.mkdir()
    write(sheet, "mediators.csv", MEDIATORS_CSV)
    as_csv = load_roster(write(sheet, "roster.csv", ROSTER_CSV, "gb18030"))
    assert as_csv == as_toml
    assert [o.lawfully_established for o in as_csv.organisations] == [True, False]
    assert as_csv.mediators[0].organisation == "MO-210102-0001"


def test_the_settings_name_a_csv_roster(tmp_path):
    roster = write(tmp_path, "roster.csv", ROSTER_CSV, "gb18030")
    courts = write(tmp_path, "courts.toml", COURTS_TOML)
    settings = dataclasses.replace(load_settings({}, home=tmp_path), roster_file=roster, court_directory_file=courts)
    ref = load_reference(settings)
    assert ref.roster.find({"name": "和平区南市场街道劳动争议调解委员会"}).code == "MO-210102-0001"
    assert ref.directory.basic_court_of("210102").code == "辽0102"
    assert ref.roster.mediators == ()  # no mediators.csv beside it: none


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("roster.csv", "代码,名称,地址\nMO-1,甲,沈阳\n", "unknown column '地址'"),
        ("roster.csv", "代码,名称,依法设立\nMO-1,甲,也许\n", "line 2, column 依法设立: '也许' is not 是/否"),
        ("roster.csv", "代码,名称,类型\nMO-1,甲,调解\n", "line 2 (MO-1): kind '调解'"),
        ("roster.csv", "代码,名称\nMO-1,甲,多余\n", "line 2 has more cells than the header"),
        ("roster.csv", "名称\n甲\n", "no code column"),
        ("roster.csv", "代码,名称,行政区划代码\nMO-1,甲,2101\n", "division_code '2101' is not a six-digit code"),
        ("roster.toml", '[[organisation]]\ncode = "MO-1"\nname = "甲"\ndivision_code = 210102\n', "must be text"),
        ("roster.toml", 'organisation = "oops"\n', "organisation must be a list of [[organisation]] tables"),
        ("roster.toml", "[[organisation]\n", "not valid TOML"),
    ],
)
def test_a_wrong_roster_is_refused_naming_the_file_and_where(tmp_path, name, text, message):
    path = write(tmp_path, name, text)
    with pytest.raises(DirectoryError) as err:
        load_roster(path)
    assert message in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda t: t.replace('divisions = ["210102"]', "divisions = [210102]"),
            "divisions must be a list of six-digit",
        ),
        (lambda t: t.replace('order = ["party_domicile", "subject_matter", "organisation"]', 'order = "x"'), "order"),
        (lambda t: t.replace('code = "辽0102"', "code = 102"), "code must be text"),
    ],
)
def test_a_wrong_court_directory_is_refused_naming_the_file(tmp_path, change, message):
    roster = write(tmp_path, "roster.toml", ROSTER_TOML)
    courts = write(tmp_path, "courts.toml", change(COURTS_TOML))
    settings = dataclasses.replace(load_settings({}, home=tmp_path), roster_file=roster, court_directory_file=courts)
    with pytest.raises(DirectoryError) as err:
        load_reference(settings)
    assert message in str(err.value) and str(courts) in str(err.value)


class _Log:
    def __init__(self):
        self.lines = []

    def info(self, event, **kw):
        self.lines.append(("info", event, kw))

    def error(self, event, **kw):
        self.lines.append(("error", event, kw))


def test_a_running_process_reads_an_edited_roster_and_keeps_the_old_one_when_the_edit_breaks_it(tmp_path):
    from casehub.sinks.reference import ReferenceWatch

    roster = write(tmp_path, "roster.toml", ROSTER_TOML)
    courts = write(tmp_path, "courts.toml", COURTS_TOML)
    settings = dataclasses.replace(load_settings({}, home=tmp_path), roster_file=roster, court_directory_file=courts)
    now = [0.0]
    log = _Log()
    watch = ReferenceWatch(settings, log, every=5.0, clock=lambda: now[0])

    def look(seconds: float) -> bool:
        now[0] += seconds
        return watch.changed()

    assert len(watch.ref.roster.organisations) == 2
    added = ROSTER_TOML + '\n[[organisation]]\ncode = "MO-3"\nname = "新登记调解委员会"\nlawfully_established = true\n'
    roster.write_text(added, encoding="utf-8")
    assert not look(1)  # not looked at again before `every` seconds
    assert not look(5)  # changed since the last look: an editor may still be writing it
    assert look(5) and len(watch.ref.roster.organisations) == 3  # the same for one look: read
    assert not look(5)  # nothing new
    kept = watch.ref
    for harm, words in [
        (lambda: roster.write_text(added + "[[organisation]\n", encoding="utf-8"), "not valid TOML"),  # a typo
        (lambda: roster.write_bytes(added.encode("gbk")), "not UTF-8 text"),  # saved as GBK by a Windows editor
        (lambda: roster.write_text("", encoding="utf-8"), "changed to empty"),  # an emptied file
        (lambda: roster.unlink(), "file gone"),  # removed while being replaced
    ]:
        harm()
        assert not look(5) and not look(5), words
        assert watch.ref is kept and words in (log.lines[-1][1] + str(log.lines[-1][2])), log.lines[-1]
        roster.write_text(added, encoding="utf-8")
        look(5), look(5)


def test_a_csv_roster_is_watched_with_its_mediators(tmp_path):
    from casehub.sinks.reference import ReferenceWatch

    roster = write(tmp_path, "roster.csv", ROSTER_CSV, "gb18030")
    mediators = write(tmp_path, "mediators.csv", MEDIATORS_CSV)
    courts = write(tmp_path, "courts.toml", COURTS_TOML)
    settings = dataclasses.replace(load_settings({}, home=tmp_path), roster_file=roster, court_directory_file=courts)
    now = [0.0]
    watch = ReferenceWatch(settings, _Log(), every=1.0, clock=lambda: now[0])
    assert len(watch.ref.roster.mediators) == 1
    mediators.write_text(MEDIATORS_CSV + "M-0002,李明,MO-210103-0002\n", encoding="utf-8")
    now[0] = 2.0
    watch.changed()
    now[0] = 4.0
    assert watch.changed() and len(watch.ref.roster.mediators) == 2
