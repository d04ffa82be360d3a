"""The judicial-confirmation rules without I/O: which agreements qualify, the court with jurisdiction, the request's
id, deadline and applicants, lateness, and what a court's answer becomes (valid Avro of the contract)."""

from __future__ import annotations

import datetime as dt

import pytest

from casehub.domain.confirmation import (
    agreement_key,
    build_request,
    confirmation_response,
    court_event,
    decide,
    outbox_moves,
    request_id_for,
    timing,
    with_identities,
)
from casehub.domain.directory import (
    CourtDirectory,
    CourtEntry,
    DirectoryError,
    Organisation,
    ReferenceData,
    Roster,
    directory_from,
    roster_from,
)
from casehub.domain.routing import route
from casehub.ground.topics import Topics
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.memory import MemoryRegistry

UTC = dt.UTC
ORGS = (
    Organisation("MO-1", "和平区劳动人事争议调解中心", "REGIONAL", "210102", True),
    Organisation("MO-2", "华锐公司劳动争议调解委员会", "ENTERPRISE_COMMITTEE", "210103", False),
)
COURTS = tuple(
    CourtEntry(code, name, "BASIC", (division,), "http", f"http://court/{code}")
    for code, name, division in (
        ("辽0102", "沈阳市和平区人民法院", "210102"),
        ("辽0103", "沈阳市沈河区人民法院", "210103"),
        ("辽0104", "沈阳市大东区人民法院", "210104"),
    )
)
REF = ReferenceData(Roster(ORGS), CourtDirectory(COURTS))


def agreement(org="和平区劳动人事争议调解中心", consent=(True, True), effective=dt.date(2026, 11, 20), **extra) -> dict:
    return {
        "agreement": {
            "number": "沈和调〔2026〕0001号",
            "agreement_kind": extra.pop("kind", "MEDIATION_AGREEMENT"),
            "signed_at": dt.datetime(2026, 11, 20, 2, tzinfo=UTC),
            "effective_date": effective,
            "terms": "分两期支付工资",
            "amount": {"amount_fen": 900000, "currency": "CNY"},
            "claim_types": ["WAGES"],
            "confirmation_consent_worker": consent[0],
            "confirmation_consent_employer": consent[1],
            "court_invited": extra.pop("court_invited", None),
        },
        "organisation": {"name": org, "kind": "REGIONAL", "division_code": "210102", **extra},
        "system": "ln-mediation-platform",
        "record_id": "17",
        "event_id": "ln-mediation-platform:17:x",
        "performance": "PENDING",
        "followed_by": [],
    }


def case(stages=(), employer_division="210104", worker_division=None) -> dict:
    return {
        "case_id": "CH1",
        "division_code": "210102",
        "updated_at": dt.datetime(2026, 11, 20, 2, tzinfo=UTC),
        "stages": list(stages),
        "parties": [
            {
                "role": "WORKER",
                "party_type": "PERSON",
                "name": "王伟",
                "id_hash": "h1",
                "division_code": worker_division,
            },
            {
                "role": "EMPLOYER",
                "party_type": "ORGANISATION",
                "name": "沈阳华锐商贸有限公司",
                "credit_code": "91210104MA0000000X",
                "division_code": employer_division,
            },
        ],
        "documents": [{"title": "调解协议书", "uri": "doc://1", "sha256": "ab" * 32, "media_type": "application/pdf"}],
        "refs": [{"kind": "MEDIATION", "system": "ln-mediation-platform", "number": "沈和调〔2026〕0001号"}],
    }


@pytest.mark.parametrize(
    ("given", "state"),
    [
        (agreement(kind="SETTLEMENT_AGREEMENT"), "SETTLEMENT"),
        (agreement(effective=None), "NOT_EFFECTIVE"),
        (agreement(consent=(True, False)), "NO_CONSENT"),
        (agreement(org="未登记的调解委员会"), "NOT_IN_ROSTER"),
        (agreement(org="华锐公司劳动争议调解委员会"), "NOT_LAWFUL"),
        (agreement(), "REQUEST"),
    ],
)
def test_which_agreements_get_a_request(given, state):
    assert decide(case(), given, REF).state == state


def test_a_joint_application_needs_both_parties_on_the_case():
    no_employer = {**case(), "parties": [p for p in case()["parties"] if p["role"] == "WORKER"]}
    decision = decide(no_employer, agreement(), REF)
    assert decision.state == "PARTY_MISSING" and "needs both parties" in decision.reason


def test_a_court_that_already_has_the_application_gets_no_second_one():
    at_court = [{"kind": "JUDICIAL_CONFIRMATION", "system": "ln-court", "record_id": "9"}]
    ours = [{"kind": "JUDICIAL_CONFIRMATION", "system": "casehub-court-gateway", "record_id": "CR-1"}]
    assert decide(case(at_court), agreement(), REF).state == "AT_COURT"
    assert decide(case(ours), agreement(), REF).state == "REQUEST"  # our own request's answers: still ours


def test_the_delegating_court_has_jurisdiction_first():
    found = route(case(), agreement(court_invited="辽0103"), None, REF.directory)
    assert found.court.code == "辽0103" and "delegating" in found.basis
    by_name = route(case(), agreement(), "沈阳市大东区人民法院", REF.directory)
    assert by_name.court.code == "辽0104"
    unknown = route(case(), agreement(), "外省某法院", REF.directory)
    assert unknown.court is None and "not in the court directory" in unknown.basis


def test_a_court_delegated_mediation_goes_to_the_delegating_court_from_the_events_on():
    """The mediation platform records the delegating court on its events (MediationEvent.delegated_by_court): the
    case record's agreement carries it, and the request goes there, not to the basic court of a place."""
    from tests.support.events import event, fold

    employer = {"role": "EMPLOYER", "party_type": "ORGANISATION", "name": "华锐", "credit_code": "X"}
    signed = {
        "number": "A1",
        "agreement_kind": "MEDIATION_AGREEMENT",
        "signed_at": dt.datetime(2026, 11, 20, 2, tzinfo=UTC),
        "effective_date": dt.date(2026, 11, 20),
        "confirmation_consent_worker": True,
        "confirmation_consent_employer": True,
    }
    events = [{**event(1, "DELEGATED_BY_COURT", 0), "delegated_by_court": "辽0103"}, event(2, "ACCEPTED", 10)]
    org = {"name": "和平区劳动人事争议调解中心", "kind": "REGIONAL", "division_code": "210102"}
    events.append({**event(3, "AGREEMENT_SIGNED", 20, agreement=signed, parties=[employer]), "organisation": org})
    for e in events:  # one mediation record, three versions of it
        e["source"] = {**e["source"], "record_id": "77"}
    record = fold(events)
    (agreement,) = record["agreements"]
    assert agreement["agreement"]["court_invited"] == "辽0103"
    decision = decide(record, agreement, REF)
    assert (decision.state, decision.court.code, decision.reason) == ("REQUEST", "辽0103", "delegating court 辽0103")


def test_otherwise_the_configured_order_of_places_decides():
    # a party's domicile: the worker's when an agency recorded it, else the employer's (registered in 210104)
    assert route(case(), agreement(), None, REF.directory).court.code == "辽0104"
    assert route(case(worker_division="210103"), agreement(), None, REF.directory).court.code == "辽0103"
    # the subject matter's place: where the agencies handled the dispute (the case's division, 210102)
    subject_first = CourtDirectory(COURTS, ("subject_matter", "party_domicile", "organisation"))
    assert route(case(), agreement(), None, subject_first).basis == "basic court of the subject matter (210102)"
    organisation_first = CourtDirectory(COURTS, ("organisation", "party_domicile", "subject_matter"))
    assert route(case(), agreement(), None, organisation_first).court.code == "辽0102"
    nowhere = route(case(employer_division="110101"), agreement(division_code="110101"), None, CourtDirectory(()))
    assert nowhere.court is None and "no basic court" in nowhere.basis


def test_the_request_id_is_a_function_of_the_agreement_alone():
    a = agreement()
    assert request_id_for(a) == request_id_for({**a, "event_id": "another version"})
    assert request_id_for(a) != request_id_for({**a, "record_id": "18"})
    assert agreement_key(a) == "ln-mediation-platform|17"
    corrected = {**a, "agreement": {**a["agreement"], "number": "沈和调（2026）0001号（更正）"}}
    assert request_id_for(corrected) == request_id_for(a)  # a corrected number is the same agreement


def test_the_request_has_the_deadline_court_organisation_terms_documents_and_no_identity():
    decision = decide(case(), agreement(), REF)
    request = build_request(case(), agreement(), decision, dt.datetime(2026, 11, 21, tzinfo=UTC))
    assert request["deadline"] == dt.date(2026, 12, 20)  # effective date + 30 days
    assert request["court"]["code"] == "辽0104"
    assert request["organisation"]["roster_id"] == "MO-1" and request["organisation"]["lawfully_established"]
    assert request["agreement"]["terms"] == "分两期支付工资" and request["documents"][0]["sha256"] == "ab" * 32
    worker = next(p for p in request["applicants"] if p["role"] == "WORKER")
    assert worker == {"role": "WORKER", "party_type": "PERSON", "name": "王伟", "id_hash": "h1"}


def test_identities_come_from_the_identity_records_and_a_missing_one_holds_the_request():
    decision = decide(case(), agreement(), REF)
    request = build_request(case(), agreement(), decision, dt.datetime(2026, 11, 21, tzinfo=UTC))
    held, missing = with_identities(request, {})
    assert held is None and missing == ["worker 王伟"]
    identity = {"id_hash": "h1", "name": "王伟", "id_number": "210102199001011234", "phone": "13800000000"}
    full, missing = with_identities(request, {"h1": identity})
    assert missing == [] and "agreement_key" not in full
    worker = next(p for p in full["applicants"] if p["role"] == "WORKER")
    assert (worker["id_number"], worker["phone"]) == ("210102199001011234", "13800000000")
    codec = AvroCodec(MemoryRegistry(), prefix="u.")
    topics = Topics("u.")
    assert codec.decode(codec.encode(topics.confirmation_requests, full))["applicants"][0]["name"] == "王伟"


def test_addresses_and_the_legal_representative_come_from_the_identity_records():
    """The worker's address from their IdentityRecord; the employer's address and legal representative from the
    organisation's, found by credit code; an employer no agency recorded goes with its name and credit code only."""
    decision = decide(case(), agreement(), REF)
    request = build_request(case(), agreement(), decision, dt.datetime(2026, 11, 21, tzinfo=UTC))
    person = {"id_hash": "h1", "name": "王伟", "id_number": "210102199001011234", "address": "沈阳市大东区小河沿路1号"}
    org = {"credit_code": "91210104MA0000000X", "address": "沈阳市大东区东望街5号", "legal_representative": "李强"}
    full, _ = with_identities(request, {"h1": person}, {"91210104MA0000000X": org})
    by_role = {p["role"]: p for p in full["applicants"]}
    assert by_role["WORKER"]["address"] == "沈阳市大东区小河沿路1号"
    employer = by_role["EMPLOYER"]
    assert (employer["address"], employer["legal_representative"]) == ("沈阳市大东区东望街5号", "李强")
    assert employer["credit_code"] == "91210104MA0000000X"
    bare, _ = with_identities(request, {"h1": person})
    employer = next(p for p in bare["applicants"] if p["role"] == "EMPLOYER")
    assert (employer["address"], employer["legal_representative"], employer["name"]) == (
        None,
        None,
        "沈阳华锐商贸有限公司",
    )


@pytest.mark.parametrize(
    ("today", "expected"),
    [(dt.date(2026, 12, 1), "SEND"), (dt.date(2026, 12, 15), "NEAR"), (dt.date(2026, 12, 20), "NEAR")]
    + [(dt.date(2026, 12, 21), "EXPIRED")],
)
def test_timing_of_a_pending_request(today, expected):
    assert timing(dt.date(2026, 12, 20), today, 5) == expected


def test_a_courts_answer_is_a_court_event_joined_by_the_agreement_and_a_response():
    decision = decide(case(), agreement(), REF)
    request = build_request(case(), agreement(), decision, dt.datetime(2026, 11, 21, tzinfo=UTC))
    now = dt.datetime(2026, 11, 25, tzinfo=UTC)
    answer = {"request_id": request["request_id"], "outcome": "ACCEPTED", "court_case_number": "（2026）辽0104民特5号"}
    event = court_event(request, {**answer, "decided_at": None, "reason": None}, now)
    assert event["event_type"] == "CONFIRMATION_ACCEPTED" and event["case_type_code"] == "民特"
    assert event["confirmation_request_id"] == request["request_id"]
    assert event["refs"][0] == {
        "kind": "COURT",
        "system": "casehub-court-gateway",
        "number": "（2026）辽0104民特5号",
        "normalised": None,
    }
    assert any(r["number"] == "沈和调〔2026〕0001号" for r in event["refs"])  # the linker joins it to the case
    response = confirmation_response(request, {**answer, "decided_at": None, "reason": None}, now)
    codec, topics = AvroCodec(MemoryRegistry(), prefix="u."), Topics("u.")
    assert codec.decode(codec.encode(topics.court, event))["event_type"] == "CONFIRMATION_ACCEPTED"
    assert codec.decode(codec.encode(topics.confirmation_responses, response))["outcome"] == "ACCEPTED"


def test_reference_files_are_checked_entry_by_entry():
    roster = roster_from({"organisation": [{"code": "MO-1", "name": "甲", "kind": "REGIONAL"}]})
    assert roster.organisations[0].lawfully_established is False  # not said: not assumed
    with pytest.raises(DirectoryError, match="kind 'X'"):
        roster_from({"organisation": [{"code": "MO-1", "name": "甲", "kind": "X"}]})
    with pytest.raises(DirectoryError, match="organisation MO-9 is not in the roster"):
        roster_from({"mediator": [{"code": "M1", "name": "李", "organisation": "MO-9"}]})
    with pytest.raises(DirectoryError, match="needs an endpoint"):
        directory_from({"court": [{"code": "辽0102", "name": "和平法院"}]})
    with pytest.raises(DirectoryError, match="order names"):
        directory_from({"order": ["moon"]})
    assert directory_from({"court": [{"code": "K", "name": "k", "delivery": "kafka"}]}).courts[0].delivery == "kafka"


def test_the_delivered_body_is_valid_by_the_documented_json_schema():
    import json
    from pathlib import Path

    import jsonschema

    from casehub.sinks.case_view import to_json

    schema = json.loads((Path(__file__).parents[2] / "schemas/json/confirmation_request.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    decision = decide(case(), agreement(), REF)
    request = build_request(case(), agreement(), decision, dt.datetime(2026, 11, 21, tzinfo=UTC))
    identity = {"id_hash": "h1", "name": "王伟", "id_number": "210102199001011234", "phone": "13800000000"}
    full, _ = with_identities(request, {"h1": identity})
    body = json.loads(to_json(full))
    jsonschema.validate(body, schema, format_checker=jsonschema.FormatChecker())
    without_id = json.loads(to_json(full))
    without_id["applicants"][0]["id_number"] = None
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(without_id, schema)


@pytest.mark.parametrize(
    "decision, held, move",
    [
        # a never-sent request of an agreement no longer eligible is withdrawn, with the reason
        ("AT_COURT", "PENDING", ("WITHDRAWING", "withdrawn, not sent: why")),
        ("AT_COURT", "WAITING_IDENTITY", ("WITHDRAWING", "withdrawn, not sent: why")),
        ("AT_COURT", "EXPIRED", ("WITHDRAWING", "withdrawn, not sent: why")),
        ("NO_CONSENT", "REINSTATED", ("WITHDRAWING", "withdrawn, not sent: why")),
        # what the court has, or refused, stays as it happened
        ("AT_COURT", "DELIVERED", None),
        ("AT_COURT", "REFUSED", None),
        # eligible again: a withdrawn request is reinstated (it was never sent)
        ("REQUEST", "WITHDRAWN", ("REINSTATED", None)),
        ("REQUEST", "WITHDRAWING", ("REINSTATED", None)),
        # nothing to change
        ("REQUEST", "PENDING", None),
        ("AT_COURT", "WITHDRAWN", None),
        ("UNDECIDED", "PENDING", None),
        ("AT_COURT", None, None),
    ],
)
def test_the_outbox_follows_the_agreements_decision(decision, held, move):
    moves = outbox_moves({"k": (decision, "why")}, {} if held is None else {"k": held})
    assert moves.get("k") == move
