"""Inspection complaint system hook: the bureau, and the case number of the agency a complaint was handed to."""

from __future__ import annotations

from casehub.connectors.base import MappingError
from casehub.connectors.values import RowContext
from casehub.domain.references import normalise_number

HANDOFF = {"arbitration": ("ARBITRATION", "ln-arbitration"), "mediation": ("MEDIATION", "ln-mediation-platform")}


def extra(ctx: RowContext, event: dict) -> None:
    event["bureau"] = {"name": ctx.value("bureau") or "(unknown bureau)", "division_code": ctx.value("regionCode")}
    target, number = ctx.value("handoff_target"), ctx.value("handoffCaseNo")
    if number:
        if target not in HANDOFF:
            raise MappingError(
                "handoff_target",
                f"handoff case number {number!r} given, but target {target!r} is not arbitration or mediation",
                "UNKNOWN_CODE",
            )
        kind, system = HANDOFF[target]
        event["refs"].append({"kind": kind, "system": system, "number": number, "normalised": normalise_number(number)})
