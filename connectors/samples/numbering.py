"""Case numbers in each agency's own style, deliberate spelling variants of cross-references, office-hour clocks."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter
from zoneinfo import ZoneInfo

from casehub.connectors.samples.identities import CITY_SHORT, PLACES
from casehub.domain.calendar import default_calendar

CALENDAR = default_calendar()  # the generator's offices keep the official holidays too

SHANGHAI = ZoneInfo("Asia/Shanghai")
FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
# Bracket spellings seen in practice for the same number: official 〔〕, ASCII [], full-width （）／［］, ASCII ().
BRACKETS = (("〔", "〕"), ("[", "]"), ("（", "）"), ("［", "］"), ("(", ")"))


class Numbers:
    """Issues sequence numbers per agency office and year, so every number is unique within its agency."""

    def __init__(self):
        self.seq: Counter = Counter()

    def _next(self, *key) -> int:
        self.seq[key] += 1
        return self.seq[key]

    def mediation(self, division: str, at: dt.datetime) -> str:
        prefix = PLACES[division][2]
        return f"{prefix}调〔{at.year}〕{self._next('m', prefix, at.year):04d}号"

    def arbitration_receipt(self, division: str, at: dt.datetime) -> str:
        return f"SQ{division[:4]}{at:%Y%m%d}{self._next('r', division[:4], at.date()):03d}"

    def arbitration(self, division: str, at: dt.datetime) -> str:
        short = CITY_SHORT[PLACES[division][0]]
        return f"{short}劳人仲案字〔{at.year}〕第{self._next('a', short, at.year)}号"

    def court(self, division: str, kind: str, at: dt.datetime) -> str:
        return f"（{at.year}）辽{division[2:]}{kind}{self._next('c', division, kind, at.year)}号"

    def complaint(self, division: str, at: dt.datetime) -> str:
        return f"TS{division}{at.year}{self._next('i', division, at.year):05d}"


def variant(number: str, rng: random.Random) -> str:
    """The same number as another clerk might type it: other brackets, full-width digits, a space, 第 or 号
    left out or added (never identical)."""
    for _ in range(10):
        out = number
        if rng.random() < 0.7:
            for left, right in BRACKETS:
                if left in out:
                    new_left, new_right = rng.choice([b for b in BRACKETS if b[0] != left])
                    out = out.replace(left, new_left).replace(right, new_right)
                    break
        if rng.random() < 0.3:
            out = out.replace("第", "") if "第" in out else re.sub(r"(?<=[)）〕］\]】])(\d)", r"第\1", out, count=1)
        if rng.random() < 0.2 and out.endswith("号"):
            out = out[:-1]
        if rng.random() < 0.1:
            out = out.replace("〕", "〕 ").replace("]", "] ").replace("）", "） ")
        if out == number or rng.random() < 0.3:
            out = out.translate(FULLWIDTH_DIGITS)
        if out != number:
            return out
    return number.translate(FULLWIDTH_DIGITS)


def maybe_variant(number: str, rng: random.Random, share: float = 0.2) -> str:
    return variant(number, rng) if rng.random() < share else number


def office(day: dt.datetime | dt.date, rng: random.Random) -> dt.datetime:
    """A moment during office hours (08:30-17:30) on `day`, or the next working day (holidays and adjusted
    working days as the official arrangements have them) if `day` is not one."""
    d = day.date() if isinstance(day, dt.datetime) else day
    while not CALENDAR.is_working_day(d):
        d += dt.timedelta(days=1)
    minute = rng.randrange(8 * 60 + 30, 17 * 60 + 30)
    return dt.datetime(d.year, d.month, d.day, minute // 60, minute % 60, rng.randrange(60), tzinfo=SHANGHAI)


def workdays_later(ts: dt.datetime, days: int, rng: random.Random) -> dt.datetime:
    """Office-hours moment `days` working days after `ts` (0 = later the same working day, else the next)."""
    d = ts.date()
    while days > 0:
        d += dt.timedelta(days=1)
        days -= CALENDAR.is_working_day(d)
    out = office(d, rng)
    if out <= ts:  # office already closed (or the draw fell earlier): next working day
        out = office(d + dt.timedelta(days=1), rng)
    return out
