"""Court case system hook: the court, and what "filed" means for each case type."""

from __future__ import annotations

import re

from casehub.connectors.values import RowContext

# （2024）辽0102民特123号: province abbreviation + 2 digits (intermediate) or 4 digits (basic court)
COURT_CODE = re.compile(r"[)）]\s*([\u4e00-\u9fff]\d{2,4})")
FILED_AS = {"民特": "CONFIRMATION_ACCEPTED", "民督": "PAYMENT_ORDER_APPLIED"}


# Value specs as module constants: each is compiled once and its reader kept in the dict.
COURT_NAME = {"column": "FYMC", "required": True}


def extra(ctx: RowContext, event: dict) -> None:
    number = event["refs"][0]["normalised"]
    match = COURT_CODE.search(number)
    code = match.group(1) if match else None
    level = "BASIC" if code and len(code) == 5 else "INTERMEDIATE" if code and len(code) == 3 else "UNKNOWN"
    event["court"] = {"name": ctx.value(COURT_NAME), "code": code, "level": level, "division_code": ctx.value("FYDM")}
    # A confirmation (民特) or payment-order (民督) application that is filed has been accepted by the court.
    if event["event_type"] == "FILED":
        event["event_type"] = FILED_AS.get(event.get("case_type_code"), "FILED")
    if event["event_type"] in (
        "JUDGMENT",
        "CONFIRMATION_RULED_VALID",
        "CONFIRMATION_REJECTED",
        "PAYMENT_ORDER",
        "SETTLED_BY_COURT_MEDIATION",
    ):
        event["outcome"] = event["event_type"].lower().replace("_", " ")
