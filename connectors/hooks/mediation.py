"""Mediation platform hook: the mediation organisation and, for a signed agreement, the agreement record."""

from __future__ import annotations

from casehub.connectors.values import RowContext

# Value specs as module constants: each is compiled once and its reader kept in the dict.
ORG_KIND = {"column": "tjzz_lx", "type": "code", "codes": "org_kind", "default": "OTHER"}
AGREEMENT_AMOUNT = {"column": "xyje", "type": "amount"}
CONFIRMATION_CONSENT = {"column": "sfsqsfqr", "type": "bool", "true": ["Y"]}
EFFECTIVE_DATE = {"column": "xysxrq", "type": "date", "format": "%Y-%m-%d"}


def extra(ctx: RowContext, event: dict) -> None:
    kind = ctx.value(ORG_KIND)
    event["organisation"] = {
        "name": ctx.value("tjzz_mc") or "(unknown organisation)",
        "kind": kind or "OTHER",
        "division_code": ctx.value("xzqh"),
        "lawfully_established": True,
    }
    event["session_at"] = event["occurred_at"] if event["event_type"] == "SESSION_HELD" else None
    if event["event_type"] == "AGREEMENT_SIGNED":
        fen = ctx.value(AGREEMENT_AMOUNT)
        consent = ctx.value(CONFIRMATION_CONSENT) or False
        event["agreement"] = {
            "number": event["refs"][0]["number"],
            "agreement_kind": "MEDIATION_AGREEMENT",
            "signed_at": event["occurred_at"],
            "effective_date": ctx.value(EFFECTIVE_DATE),
            "terms": None,
            "amount": {"amount_fen": fen, "currency": "CNY"} if fen is not None else None,
            "performance_due": None,
            "claim_types": [c["type"] for c in event["claims"]],
            # the platform records one joint request for judicial confirmation (申请司法确认), made by both parties
            "confirmation_consent_worker": consent,
            "confirmation_consent_employer": consent,
            "court_invited": None,
        }
