"""The case page's picture (casehub.sinks.web_timeline): deadline labels never overlap and never leave the picture,
however many deadlines fall on one day or near its right edge."""

from __future__ import annotations

import datetime as dt
import html
import itertools
import re

from hypothesis import given
from hypothesis import strategies as st

from casehub.sinks.web_timeline import LABEL_GAP, WIDTH, label_rows, svg, text_width

LABEL = re.compile(r'<text class="deadline-label" x="([\d.]+)" y="(\d+)"[^>]*text-anchor="(\w+)"[^>]*>([^<]*)</text>')


def _boxes(picture: str) -> list[tuple[float, float, int, str]]:
    out = []
    for x, y, anchor, text in LABEL.findall(picture):
        width = text_width(html.unescape(text))
        left = float(x) - width if anchor == "end" else float(x)
        out.append((left, left + width, int(y), html.unescape(text)))
    return out


def _record(dues: list[tuple[str, str, dt.date]]) -> dict:
    start = dt.datetime(2026, 1, 5, 1, tzinfo=dt.UTC)
    return {
        "stages": [
            {
                "agency_kind": "MEDIATION",
                "kind": "MEDIATION_TOWNSHIP_STREET",
                "system": "s",
                "record_id": "1",
                "started_at": start,
                "ended_at": start + dt.timedelta(days=80),
                "status": "CLOSED",
            }
        ],
        "deadlines": [{"kind": k, "state": state, "due": due} for k, state, due in dues],
        "timeline": [],
    }


def test_labels_of_deadlines_on_one_day_and_at_the_right_edge_neither_overlap_nor_leave_the_picture():
    same_day = dt.date(2026, 1, 20)
    last = dt.date(2026, 3, 26)
    dues = [("MEDIATION_15_DAYS", s, same_day) for s in ("MISSED", "MISSED", "MET", "MET", "NOT_APPLICABLE")]
    dues += [("ARBITRATION_AWARD_45_DAYS", "MET", last), ("AWARD_APPEAL_15_DAYS", "MET", last)]
    dues += [("INSPECTION_INVESTIGATE_60_WORKDAYS", "RUNNING", last - dt.timedelta(days=2))]
    picture = svg(_record(dues), dt.date(2026, 3, 1))
    boxes = _boxes(picture)
    assert len(boxes) == len(dues)
    for a, b in itertools.combinations(boxes, 2):
        assert a[2] != b[2] or a[1] + LABEL_GAP <= b[0] or b[1] + LABEL_GAP <= a[0], (a, b)
    assert all(left >= 0 and right <= WIDTH for left, right, _, _ in boxes), boxes
    height = int(re.search(r'viewBox="0 0 \d+ (\d+)"', picture).group(1))
    assert max(y for _, _, y, _ in boxes) < height - 20  # the lowest row is inside the picture, above today's label


@given(st.lists(st.tuples(st.floats(0, 900), st.floats(1, 200)), max_size=30))
def test_label_rows_never_put_two_overlapping_labels_in_one_row(labels):
    spans = [(left, left + width) for left, width in labels]
    rows = label_rows(spans)
    assert len(rows) == len(spans)
    for (a, ra), (b, rb) in itertools.combinations(zip(spans, rows, strict=True), 2):
        assert ra != rb or a[1] + LABEL_GAP <= b[0] or b[1] + LABEL_GAP <= a[0]
    # a label goes to a new row only when every earlier row has no room for it
    for i, (span, row) in enumerate(zip(spans, rows, strict=True)):
        for earlier in range(row):
            placed = [s for s, r in zip(spans[:i], rows[:i], strict=True) if r == earlier]
            assert any(not (span[1] + LABEL_GAP <= a or span[0] >= b + LABEL_GAP) for a, b in placed)
