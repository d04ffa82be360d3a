"""`casehub verify`: how well the case view matches the sample generator's ground truth (pairwise precision and
recall of linking; accuracy of stage, agencies, flags and deadlines)."""

from __future__ import annotations

import json
from pathlib import Path

from casehub.connectors.mapping import available_mappings
from casehub.domain.quality import accuracy, pairwise
from casehub.ground.settings import Settings


class VerifyError(RuntimeError):
    """Nothing to compare: no ground truth or no case view; the message says where it looked."""


def verify(settings: Settings, truth_file: Path | None = None) -> dict:
    """Compare the live case records of the view with ground_truth.json.

    Raises:
        VerifyError: the truth file or the case view is missing.
    """
    from casehub.sinks.case_view import create_engine, live_records

    path = Path(truth_file) if truth_file else settings.samples / "ground_truth.json"
    if not path.exists():
        raise VerifyError(
            f"no ground truth at {path}: run `casehub sample` (or `casehub up` on the sample) or pass --truth FILE"
        )
    truth = json.loads(path.read_text(encoding="utf-8"))
    engine = create_engine(settings.case_view)
    try:
        cases = live_records(engine)
    finally:
        engine.dispose()
    if not cases:
        raise VerifyError(f"the case view at {settings.case_view} holds no case yet (is the hub running?)")
    systems = {}
    for m in available_mappings(settings.mapping_dir).values():
        systems.setdefault(m.database, m.system)

    def records_of(tc: dict) -> set:
        return {(systems.get(r["system"], r["system"]), r["record_id"]) for r in tc["records"]}

    truth_of: dict[tuple, set] = {}
    for tc in truth:
        for record in records_of(tc):
            truth_of.setdefault(record, set()).add(tc["case_key"])
    predicted: dict[tuple, set] = {}
    for case_id, case in cases.items():
        for entry in case.get("timeline", []):
            predicted.setdefault((entry["source"]["system"], entry["source"]["record_id"]), set()).add(case_id)
    return {
        "truth": str(path),
        "case_view": settings.case_view,
        "truth_cases": len(truth),
        "view_cases": len(cases),
        "linking": pairwise(truth_of, predicted),
        **accuracy(truth, cases, predicted, records_of),
    }


def render(report: dict) -> str:
    link = report["linking"]
    lines = [
        f"ground truth: {report['truth_cases']} cases ({report['truth']}); case view: {report['view_cases']} cases",
        f"linking: precision {link['precision']:.4f}, recall {link['recall']:.4f} "
        f"({link['true_positive']} of {link['pairs_true']} record pairs found, {link['false_positive']} wrong; "
        f"{link['records_in_no_case']} of {link['records']} records in no case)",
        f"stage accuracy {report['stage_accuracy']:.4f}, agencies {report['agencies_accuracy']:.4f} "
        f"({report['cases_compared']} cases compared)",
        "flags: " + ", ".join(f"{k} {v:.4f}" for k, v in report["flag_accuracy"].items()),
        f"deadlines: {report['deadlines']['agreeing']} of {report['deadlines']['expected']} expected agree "
        f"(recall {report['deadlines']['recall']:.4f}, precision {report['deadlines']['precision']:.4f})",
    ]
    for w in report["wrong_stages"][:10]:
        lines.append(
            f"  stage differs: {w['case']} ({w['kind']}): expected {w['expected']}, view {w['got']} ({w['case_id']})"
        )
    return "\n".join(lines)
