from hypothesis import given, settings
from hypothesis import strategies as st

from casehub.domain.references import normalise_number
from tests.support.events import EVENTS, event, fold


def test_bracket_width_space_and_ordinal_variants_are_one_case():
    a = fold([event(1, number="沈劳人仲案字〔2024〕第12号"), event(2, number="沈劳人仲案字[２０２４] 12")])
    assert [e["event_id"] for e in a["timeline"]] == ["sys:1", "sys:2"]
    assert normalise_number("（2024）辽0102民特123号") == "(2024)辽0102民特123"
    assert normalise_number("沈劳人仲案字〔2024〕第123号") == normalise_number("沈劳人仲案字【２０２４】１２３")


_BRACKETS = str.maketrans(
    {"（": "(", "）": ")", "〔": "(", "〕": ")", "［": "(", "］": ")", "【": "(", "】": ")", "[": "(", "]": ")"}
)


@given(
    st.text(alphabet=st.sampled_from("（）〔〕［］【】[]() 　\t沈和调辽民特号ａｂAbc0123４５"), max_size=30)
    | st.text(max_size=30)
)
def test_case_numbers_normalise_as_one_translation_table_would(number):
    import re
    import unicodedata

    expected = "".join(unicodedata.normalize("NFKC", number).translate(_BRACKETS).split()).upper()
    expected = re.sub(r"第(?=\d)", "", expected).removesuffix("号")
    assert normalise_number(number) == expected


def test_merge_builds_the_chain():
    case = fold(EVENTS)
    assert case["version"] == 5
    assert case["stage"] == "CLOSED"
    assert case["status"] == "MEDIATION:AGREEMENT_PERFORMED"
    assert case["agreement"]["number"] == "A2"
    assert {p["role"] for p in case["parties"]} == {"WORKER", "EMPLOYER"}
    assert [e["event_id"] for e in case["timeline"]] == [f"sys:{i}" for i in range(1, 6)]


def test_duplicate_event_changes_nothing():
    assert fold([*EVENTS, EVENTS[2], EVENTS[0]]) == fold(EVENTS)


@settings(max_examples=200, deadline=None)
@given(st.permutations(EVENTS), st.lists(st.sampled_from(EVENTS), max_size=6))
def test_any_order_and_duplication_gives_the_same_record(order, extra):
    assert fold(list(order) + extra) == fold(EVENTS)


def party(**flags) -> dict:
    return {"role": "WORKER", "party_type": "PERSON", "name": "王伟", "id_hash": "a" * 64, **flags}


FLAG_EVENTS = [
    event(1, "APPLIED", 0, parties=[party(migrant_worker=False)]),
    event(2, "ACCEPTED", 10, parties=[party(migrant_worker=True, phone_masked="138****5678")]),
    event(3, "SESSION_HELD", 20, parties=[party(new_employment_kind="NONE")]),
    event(4, "FAILED", 30, parties=[party(new_employment_kind="DELIVERY_RIDER", division_code="210102")]),
]


@settings(max_examples=200, deadline=None)
@given(st.permutations(FLAG_EVENTS), st.lists(st.sampled_from(FLAG_EVENTS), max_size=4))
def test_party_details_merge_the_same_in_any_order(order, extra):
    case = fold(list(order) + extra)
    assert case == fold(FLAG_EVENTS)
    worker = case["parties"][0]
    assert worker["migrant_worker"] is True and case["migrant_worker"] is True
    assert worker["new_employment_kind"] == "DELIVERY_RIDER" and worker["phone_masked"] == "138****5678"
