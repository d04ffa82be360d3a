"""How well the case records match a ground truth: pairwise precision and recall of linking, and the accuracy of
stage, flags and deadlines. Pure: plain data in, figures out (`casehub verify` reads both sides)."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

FLAGS = (
    "group_dispute",
    "migrant_worker",
    "dispatched_worker",
    "new_employment_form",
    "mediated_before_arbitration",
    "resolved_by_negotiation_or_mediation",
)


def pairwise(truth: dict[tuple, set], predicted: dict[tuple, set]) -> dict:
    """Pairwise precision and recall over the records of the truth: a pair is linked when the two records share
    a case (a record may be in several cases).

    Args:
        truth, predicted: record -> the case keys it belongs to.
    """
    keys = sorted(truth)
    tp = fp = fn = 0
    for a, b in combinations(keys, 2):
        t = bool(truth[a] & truth[b])
        p = bool(predicted.get(a, set()) & predicted.get(b, set()))
        tp += t and p
        fp += p and not t
        fn += t and not p
    missing = [k for k in keys if not predicted.get(k)]
    return {
        "pairs_true": tp + fn,
        "true_positive": tp,
        "false_positive": fp,
        "false_negative": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "records": len(keys),
        "records_in_no_case": len(missing),
    }


def best_match(records: set, predicted: dict[tuple, set]) -> str | None:
    """The predicted case holding most of a truth case's records (ties: the smallest id)."""
    votes = Counter(c for r in records for c in predicted.get(r, ()))
    if not votes:
        return None
    top = max(votes.values())
    return min(c for c, n in votes.items() if n == top)


def _either(deadline: dict, alternatives, got: Counter) -> str:
    """The expected state, or the alternative casehub may have brought about if the case record shows that one."""
    for state in alternatives:
        if got[(deadline["kind"], deadline["due"], state)]:
            return state
    return deadline["state"]


def accuracy(truth_cases: list[dict], cases: dict[str, dict], predicted: dict[tuple, set], records_of) -> dict:
    """Stage, flag and deadline agreement between each truth case and its best-matching case record.

    Args:
        truth_cases: ground-truth cases with `expected` (stage, flags, stages, deadlines).
        cases: case id -> case record.
        records_of: truth case -> its records (the keys of `predicted`).
    """
    stage_ok = n = agencies_ok = 0
    flags_ok: Counter = Counter()
    dl_truth = dl_pred = dl_common = 0
    wrong_stage: list[dict] = []
    for tc in truth_cases:
        exp = tc.get("expected")
        match = best_match(records_of(tc), predicted)
        if exp is None or match is None:
            continue
        n += 1
        case = cases[match]
        may = exp.get("casehub_may_add") or {}  # what casehub's own confirmation application may have added
        if case["stage"] == exp["stage"] or case["stage"] in may.get("stages", ()):
            stage_ok += 1
        elif len(wrong_stage) < 20:
            wrong_stage.append(
                {
                    "case": tc["case_key"],
                    "kind": tc["kind"],
                    "expected": exp["stage"],
                    "got": case["stage"],
                    "case_id": match,
                }
            )
        for flag in FLAGS:
            flags_ok[flag] += bool(case.get(flag)) == bool(exp["flags"].get(flag))
        agencies = {s["agency_kind"].lower() for s in case.get("stages", [])}
        agencies_ok += set(exp["stages"]) <= agencies <= set(exp["stages"]) | set(may.get("agencies", ()))
        kinds = {d["kind"] for d in exp["deadlines"]}
        got = Counter((d["kind"], str(d["due"]), d["state"]) for d in case.get("deadlines", []) if d["kind"] in kinds)
        also = may.get("deadline_states", {})
        want = Counter((d["kind"], d["due"], _either(d, also.get(d["kind"], ()), got)) for d in exp["deadlines"])
        dl_truth += sum(want.values())
        dl_pred += sum(got.values())
        dl_common += sum((want & got).values())
    return {
        "cases_compared": n,
        "stage_accuracy": stage_ok / n if n else 1.0,
        "agencies_accuracy": agencies_ok / n if n else 1.0,
        "flag_accuracy": {f: flags_ok[f] / n if n else 1.0 for f in FLAGS},
        "deadlines": {
            "expected": dl_truth,
            "found": dl_pred,
            "agreeing": dl_common,
            "recall": dl_common / dl_truth if dl_truth else 1.0,
            "precision": dl_common / dl_pred if dl_pred else 1.0,
        },
        "wrong_stages": wrong_stage,
    }
