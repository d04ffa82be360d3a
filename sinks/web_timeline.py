"""The case page's picture: one lane per stage (who handled the dispute, from when to when), a dot per event, the
statutory deadlines as markers with their state, and today's line, as an inline SVG a clerk reads at a glance.
Pure: a stored case record (JSON) in, SVG text out."""

from __future__ import annotations

import datetime as dt
import html
import unicodedata
from zoneinfo import ZoneInfo

from casehub.sinks.web_labels import AGENCY, DEADLINE, DEADLINE_STATE, KIND, event_cn

COLOUR = {"MEDIATION": "#2e7d32", "ARBITRATION": "#1565c0", "COURT": "#6a1b9a", "INSPECTION": "#ef6c00"}
STATE_COLOUR = {"MET": "#2e7d32", "MISSED": "#c62828", "RUNNING": "#f9a825", "NOT_APPLICABLE": "#9e9e9e"}
WIDTH, LEFT, LANE = 1000, 250, 34
LABEL_SIZE, LABEL_ROW, LABEL_GAP = 11, 14, 6  # deadline labels: font size, row height, space between neighbours
CHINA = ZoneInfo("Asia/Shanghai")


def text_width(text: str, size: float = LABEL_SIZE) -> float:
    """The width a label takes, estimated: a CJK or full-width character one em, any other about 0.6 em."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else size * 0.6 for c in text)


def label_rows(spans: list[tuple[float, float]], gap: float = LABEL_GAP) -> list[int]:
    """A row for each label, given its (left, right) extent: the first row where it keeps `gap` from every label
    placed there before it (labels are placed in the order given; a new row when none has room)."""
    rows: list[list[tuple[float, float]]] = []
    out = []
    for left, right in spans:
        for i, placed in enumerate(rows):
            if all(right + gap <= a or left >= b + gap for a, b in placed):
                placed.append((left, right))
                out.append(i)
                break
        else:
            rows.append([(left, right)])
            out.append(len(rows) - 1)
    return out


def _t(value) -> dt.datetime:
    """A moment in China time: records carry UTC (naive values from SQLite are UTC too), a date is its day in
    China (deadlines are counted in local days)."""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value) if len(value) == 10 else dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(CHINA)
    return dt.datetime(value.year, value.month, value.day, tzinfo=CHINA)


def local(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A record's moment as a clerk in China reads it (the page's `local` filter); a bare date stays that date."""
    if not value:
        return ""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime) or isinstance(value, str) and len(value) == 10:
        return str(value)
    return _t(value).strftime(fmt)


def days_left(due, today: dt.date) -> str:
    """'还剩 N 天' (N days left), '今日到期' (due today) or '逾期 N 天' (N days overdue)."""
    d = (_t(due).date() - today).days
    return f"还剩 {d} 天" if d > 0 else "今日到期" if d == 0 else f"逾期 {-d} 天"


def svg(record: dict, today: dt.date) -> str:
    e = html.escape
    stages = record.get("stages") or []
    deadlines = record.get("deadlines") or []
    now = dt.datetime(today.year, today.month, today.day, 12, tzinfo=CHINA)
    times = [_t(s["started_at"]) for s in stages] + [_t(s["ended_at"]) for s in stages if s.get("ended_at")]
    times += [_t(d["due"]) for d in deadlines]
    if not times:
        return ""
    start, end = min(times), max(times)
    if any(not s.get("ended_at") for s in stages) or any(d.get("state") == "RUNNING" for d in deadlines):
        end = max(end, min(now, end + dt.timedelta(days=400)))
    span = max((end - start).total_seconds(), 86400.0)
    start -= dt.timedelta(seconds=span * 0.03)
    span *= 1.06

    def x(moment) -> float:
        return LEFT + (WIDTH - LEFT - 20) * (_t(moment) - start).total_seconds() / span

    # deadline labels: each under its marker, rightwards (leftwards when it would leave the picture), in as many
    # rows as it takes for no two to overlap
    marks = []
    for d in sorted(deadlines, key=lambda d: (str(d["due"]), d["kind"])):
        dx = x(d["due"])
        note = days_left(d["due"], today) if d.get("state") == "RUNNING" else DEADLINE_STATE.get(d.get("state"), "")
        text = f"{DEADLINE.get(d['kind'], d['kind'])} {note}"
        width = text_width(text)
        right_aligned = dx + width > WIDTH - 4
        marks.append((d, dx, text, right_aligned, (dx - width, dx) if right_aligned else (dx, dx + width)))
    rows = label_rows([m[4] for m in marks])
    labels_height = (LABEL_ROW * (max(rows) + 1) + 34) if marks else 0
    height = 40 + LANE * len(stages) + labels_height + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="案件全链条时间轴">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fafafa"/>',
    ]
    # month ticks
    tick = dt.datetime(start.year, start.month, 1, tzinfo=dt.UTC)
    step = max(1, round(span / 86400 / 30 / 10))
    while tick <= end:
        if tick >= start:
            out.append(f'<line x1="{x(tick):.1f}" y1="28" x2="{x(tick):.1f}" y2="{height - 24}" stroke="#e0e0e0"/>')
            out.append(f'<text x="{x(tick):.1f}" y="20" font-size="11" fill="#616161">{tick:%Y-%m}</text>')
        month = tick.month - 1 + step
        tick = tick.replace(year=tick.year + month // 12, month=month % 12 + 1)
    timeline = record.get("timeline") or []
    for i, s in enumerate(stages):
        y = 36 + i * LANE
        agency = s.get("agency_kind", "")
        colour = COLOUR.get(agency, "#546e7a")
        label = f"{AGENCY.get(agency, agency)} · {KIND.get(s.get('kind'), s.get('kind', ''))}"
        number = s.get("case_number") or s.get("record_id")
        out.append(f'<text x="8" y="{y + 13}" font-size="13" font-weight="bold" fill="{colour}">{e(label)}</text>')
        out.append(f'<text x="8" y="{y + 27}" font-size="11" fill="#424242">{e(str(number))[:34]}</text>')
        x1 = x(s["started_at"])
        x2 = x(s["ended_at"]) if s.get("ended_at") else x(now)
        dash = "" if s.get("ended_at") else ' stroke-dasharray="4 3" stroke="#000"'
        out.append(
            f'<rect x="{x1:.1f}" y="{y + 4}" width="{max(x2 - x1, 8):.1f}" height="18" rx="4" fill="{colour}" '
            f'fill-opacity="0.35"{dash}><title>{e(label)} {e(str(number))}: {e(s.get("status", ""))}</title></rect>'
        )
        for entry in timeline:
            if entry["source"]["system"] == s["system"] and entry["source"]["record_id"] == s["record_id"]:
                ex = x(entry["occurred_at"])
                kind = entry["event_type"]
                tip = f"{_t(entry['occurred_at']):%Y-%m-%d} {event_cn(agency, kind)} ({kind})"
                out.append(
                    f'<circle cx="{ex:.1f}" cy="{y + 13}" r="5" fill="{colour}"><title>{e(tip)}</title></circle>'
                )
        if s.get("outcome"):
            outcome = event_cn(agency, s["outcome"])[:28]
            right = x2 + 10 + text_width(outcome) > WIDTH - 4  # it would leave the picture: left of the bar's end
            out.append(
                f'<text x="{(x2 - 8) if right else (x2 + 10):.1f}" y="{y + 17}" font-size="11" fill="#212121" '
                f'text-anchor="{"end" if right else "start"}">{e(outcome)}</text>'
            )
    if marks:
        y = 36 + len(stages) * LANE
        out.append(f'<text x="8" y="{y + 17}" font-size="13" font-weight="bold" fill="#424242">法定期限</text>')
        for (d, dx, text, right_aligned, _), row in zip(marks, rows, strict=True):
            colour = STATE_COLOUR.get(d.get("state"), "#9e9e9e")
            out.append(
                f'<path d="M{dx:.1f} {y + 4} l7 9 l-7 9 l-7 -9 z" fill="{colour}">'
                f"<title>{e(text)} {e(str(d['due']))}</title></path>"
            )
            out.append(
                f'<text class="deadline-label" x="{dx:.1f}" y="{y + 36 + LABEL_ROW * row}" font-size="{LABEL_SIZE}" '
                f'text-anchor="{"end" if right_aligned else "start"}" fill="{colour}">{e(text)}</text>'
            )
    tx = x(now)
    if LEFT <= tx <= WIDTH:
        out.append(
            f'<line x1="{tx:.1f}" y1="28" x2="{tx:.1f}" y2="{height - 20}" stroke="#c62828" stroke-width="1.5"/>'
        )
        out.append(f'<text x="{tx + 3:.1f}" y="{height - 8}" font-size="11" fill="#c62828">今天 {today}</text>')
    out.append("</svg>")
    return "\n".join(out)
