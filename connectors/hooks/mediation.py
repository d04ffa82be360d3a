"""Mediation platform hook: the mediation organisation, the court that delegated the mediation, the signed agreement
document and, for a signed agreement, the agreement record (terms, amount, effective date, joint consent)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from casehub.connectors.base import MappingError
from casehub.connectors.values import RowContext
from casehub.domain.identities import mask_identifiers

# Value specs as module constants: each is compiled once and its reader kept in the dict.
ORG_KIND = {"column": "tjzz_lx", "type": "code", "codes": "org_kind", "default": "OTHER"}
AGREEMENT_AMOUNT = {"column": "xyje", "type": "amount"}
CONFIRMATION_CONSENT = {"column": "sfsqsfqr", "type": "bool", "true": ["Y"]}
EFFECTIVE_DATE = {"column": "xysxrq", "type": "date", "format": "%Y-%m-%d"}
SHA256 = re.compile(r"[0-9a-f]{64}")
MEDIA_TYPES = {".pdf": "application/pdf", ".ofd": "application/ofd", ".jpg": "image/jpeg", ".png": "image/png"}


def extra(ctx: RowContext, event: dict) -> None:
    kind = ctx.value(ORG_KIND)
    event["organisation"] = {
        "name": ctx.value("tjzz_mc") or "(unknown organisation)",
        "kind": kind or "OTHER",
        "division_code": ctx.value("xzqh"),
        "lawfully_established": True,
    }
    event["session_at"] = event["occurred_at"] if event["event_type"] == "SESSION_HELD" else None
    # 委派调解: the court that delegated the mediation has jurisdiction over confirming its agreement
    event["delegated_by_court"] = ctx.value("wpfy")
    if event["event_type"] == "AGREEMENT_SIGNED":
        fen = ctx.value(AGREEMENT_AMOUNT)
        consent = ctx.value(CONFIRMATION_CONSENT) or False
        event["agreement"] = {
            "number": event["refs"][0]["number"],
            "agreement_kind": "MEDIATION_AGREEMENT",
            "signed_at": event["occurred_at"],
            "effective_date": ctx.value(EFFECTIVE_DATE),
            # typed by a clerk: a resident ID or phone number in it is masked, as a party's is (the court gets the
            # signed agreement itself, by its document)
            "terms": mask_identifiers(ctx.value("xynr")),
            "amount": {"amount_fen": fen, "currency": "CNY"} if fen is not None else None,
            "performance_due": None,
            "claim_types": [c["type"] for c in event["claims"]],
            # the platform records one joint request for judicial confirmation (申请司法确认), made by both parties
            "confirmation_consent_worker": consent,
            "confirmation_consent_employer": consent,
            "court_invited": event["delegated_by_court"],
        }
        # the signed agreement, checked where the agreement is made: a broken one holds this event (a dead letter
        # naming the column) and no other of the record
        document = agreement_document(ctx)
        if document:
            event["documents"] = [document]


def agreement_document(ctx: RowContext) -> dict | None:
    """The signed agreement (调解协议书) as a Document: where it is kept and its SHA-256, both or neither.

    Raises:
        MappingError: only one of the two is filled, or the hash is not 64 hex digits (the court checks the file
            against it: a wrong one is no document).
    """
    uri, digest = ctx.value("xywj_dz"), ctx.value("xywj_hash")
    if not uri and not digest:
        return None
    if not uri or not digest:
        missing = "xywj_dz" if not uri else "xywj_hash"
        raise MappingError(missing, "the agreement document needs both its location and its SHA-256", "MISSING_FIELD")
    digest = digest.strip().lower()
    if not SHA256.fullmatch(digest):
        raise MappingError("xywj_hash", "not a SHA-256 (64 hexadecimal digits)", "OTHER")
    return {
        "title": "调解协议书",
        "uri": uri,
        "sha256": digest,
        "media_type": MEDIA_TYPES.get(PurePosixPath(uri).suffix.lower()),
    }
