"""The case page's picture: one lane per stage (who handled the dispute, from when to when), a dot per event, the
statutory deadlines as markers with their state, and today's line, as an inline SVG a clerk reads at a glance.
Pure: a stored case record (JSON) in, SVG text out."""

from __future__ import annotations

import datetime as dt
import html
from zoneinfo import ZoneInfo

AGENCY = {"MEDIATION": "调解", "ARBITRATION": "仲裁", "COURT": "法院", "INSPECTION": "监察", "NEGOTIATION": "协商"}
COLOUR = {"MEDIATION": "#2e7d32", "ARBITRATION": "#1565c0", "COURT": "#6a1b9a", "INSPECTION": "#ef6c00"}
KIND = {
    "MEDIATION_ENTERPRISE": "企业调解",
    "MEDIATION_TOWNSHIP_STREET": "乡镇街道调解",
    "MEDIATION_INDUSTRY_REGIONAL": "行业区域调解",
    "MEDIATION_PEOPLES": "人民调解",
    "MEDIATION_PRE_ARBITRATION": "仲裁前调解",
    "MEDIATION_COURT_DELEGATED": "委派调解",
    "ARBITRATION": "劳动仲裁",
    "LITIGATION_FIRST_INSTANCE": "一审",
    "LITIGATION_APPEAL": "二审",
    "JUDICIAL_CONFIRMATION": "司法确认",
    "PAYMENT_ORDER": "支付令",
    "ENFORCEMENT": "执行",
    "INSPECTION": "劳动监察",
    "NEGOTIATION": "协商和解",
}
DEADLINE = {
    "MEDIATION_15_DAYS": "调解15日",
    "ARBITRATION_ACCEPT_5_DAYS": "仲裁受理5日",
    "ARBITRATION_AWARD_45_DAYS": "仲裁裁决45日",
    "AWARD_APPEAL_15_DAYS": "起诉15日",
    "CONFIRMATION_30_DAYS": "司法确认30日",
    "INSPECTION_ACCEPT_5_WORKDAYS": "监察受理5个工作日",
    "INSPECTION_INVESTIGATE_60_WORKDAYS": "监察调查60个工作日",
}
STATE_COLOUR = {"MET": "#2e7d32", "MISSED": "#c62828", "RUNNING": "#f9a825", "NOT_APPLICABLE": "#9e9e9e"}
WIDTH, LEFT, LANE = 1000, 250, 34
CHINA = ZoneInfo("Asia/Shanghai")


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

    height = 40 + LANE * len(stages) + (60 if deadlines else 0) + 30
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
                tip = f"{_t(entry['occurred_at']):%Y-%m-%d} {entry['event_type']}"
                out.append(
                    f'<circle cx="{ex:.1f}" cy="{y + 13}" r="5" fill="{colour}"><title>{e(tip)}</title></circle>'
                )
        if s.get("outcome"):
            right = x2 > WIDTH - 180  # near the right edge the label goes left of the bar's end
            out.append(
                f'<text x="{(x2 - 8) if right else (x2 + 10):.1f}" y="{y + 17}" font-size="11" fill="#212121" '
                f'text-anchor="{"end" if right else "start"}">{e(s["outcome"])[:28]}</text>'
            )
    if deadlines:
        y = 36 + len(stages) * LANE
        out.append(f'<text x="8" y="{y + 17}" font-size="13" font-weight="bold" fill="#424242">法定期限</text>')
        state_cn = {"MET": "已满足", "MISSED": "已超期", "NOT_APPLICABLE": "不适用"}
        for i, d in enumerate(sorted(deadlines, key=lambda d: str(d["due"]))):
            dx = x(d["due"])
            colour = STATE_COLOUR.get(d.get("state"), "#9e9e9e")
            name = DEADLINE.get(d["kind"], d["kind"])
            note = days_left(d["due"], today) if d.get("state") == "RUNNING" else state_cn.get(d.get("state"), "")
            out.append(
                f'<path d="M{dx:.1f} {y + 4} l7 9 l-7 9 l-7 -9 z" fill="{colour}">'
                f"<title>{e(name)} {e(str(d['due']))} {e(note)}</title></path>"
            )
            ly = y + 36 + 14 * (i % 2)  # labels on two rows, so neighbours do not overwrite each other
            anchor = "end" if dx > WIDTH - 120 else "start"
            out.append(
                f'<text x="{dx:.1f}" y="{ly}" font-size="11" text-anchor="{anchor}" fill="{colour}">'
                f"{e(name)} {e(note)}</text>"
            )
    tx = x(now)
    if LEFT <= tx <= WIDTH:
        out.append(
            f'<line x1="{tx:.1f}" y1="28" x2="{tx:.1f}" y2="{height - 20}" stroke="#c62828" stroke-width="1.5"/>'
        )
        out.append(f'<text x="{tx + 3:.1f}" y="{height - 8}" font-size="11" fill="#c62828">今天 {today}</text>')
    out.append("</svg>")
    return "\n".join(out)
