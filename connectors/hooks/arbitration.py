"""Arbitration case system hook: the commission, the award, and the fast-track flag."""

from __future__ import annotations

from casehub.connectors.values import RowContext

# Value specs as module constants: each is compiled once and its reader kept in the dict.
MIGRANT = {"column": "is_migrant", "type": "bool", "true": ["1"]}
AWARD_AMOUNT = {"column": "award_amount_fen", "type": "amount", "unit": "fen"}
AWARD_ISSUED = {"column": "closed_at", "type": "time", "format": "epoch_ms", "required": True}


def extra(ctx: RowContext, event: dict) -> None:
    event["commission"] = {
        "name": ctx.value("commission") or "(unknown commission)",
        "division_code": ctx.value("division_code"),
    }
    migrant = ctx.value(MIGRANT)
    # migrant-worker wage cases and group disputes are filed and heard first (art 7; 保障农民工工资支付条例)
    event["priority"] = bool(migrant or event["group_dispute"])
    if event["event_type"] in ("AWARD_FINAL", "AWARD_NON_FINAL"):
        fen = ctx.value(AWARD_AMOUNT)
        event["award"] = {
            "final": event["event_type"] == "AWARD_FINAL",
            "issued_at": ctx.value(AWARD_ISSUED),
            "received_at": None,
            "amount": {"amount_fen": fen, "currency": "CNY"} if fen is not None else None,
            "summary": None,
        }
