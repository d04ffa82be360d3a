"""Working days under the official PRC holiday arrangements (data/holidays.toml), for periods the law counts in
working days. A year without data counts Monday to Friday and says so."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from importlib import resources


class CalendarError(ValueError):
    """The holiday data cannot be used; the message names the year and the entry."""


@dataclass(frozen=True)
class WorkCalendar:
    """Days off and adjusted working days per year.

    Args:
        off: days off (holidays, and weekend days inside them), by year.
        work: weekend days that are working days (调休上班), by year.
    """

    off: dict[int, frozenset[dt.date]] = field(default_factory=dict)
    work: dict[int, frozenset[dt.date]] = field(default_factory=dict)

    def knows(self, year: int) -> bool:
        return year in self.off

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.work.get(day.year, ()):
            return True
        return day.weekday() < 5 and day not in self.off.get(day.year, ())

    def add_working_days(self, start: dt.date, days: int) -> tuple[dt.date, list[int]]:
        """The day `days` working days after `start` (the start day itself not counted), and the years crossed
        for which there is no data (counted Monday to Friday)."""
        day, left, unknown = start, days, []
        while left > 0:
            day += dt.timedelta(days=1)
            if not self.knows(day.year) and day.year not in unknown:
                unknown.append(day.year)
            if self.is_working_day(day):
                left -= 1
        return day, unknown


def parse_calendar(text: str, where: str = "holidays.toml") -> WorkCalendar:
    """A WorkCalendar from the TOML text of a holidays file.

    Raises:
        CalendarError: a table that is not a year, a date that is not YYYY-MM-DD or lies in another year.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{where}: {exc}") from exc
    off, work = {}, {}
    for key, table in doc.items():
        if not (key.isdigit() and len(key) == 4 and isinstance(table, dict)):
            raise CalendarError(f"{where}: [{key}] is not a year table")
        year = int(key)
        for name, target in (("off", off), ("work", work)):
            days = set()
            for text_day in table.get(name, []):
                try:
                    day = dt.date.fromisoformat(str(text_day))
                except ValueError as exc:
                    raise CalendarError(f"{where}: [{key}] {name}: {text_day!r} is not a date (YYYY-MM-DD)") from exc
                if day.year != year:
                    raise CalendarError(f"{where}: [{key}] {name}: {text_day} is not in {year}")
                days.add(day)
            target[year] = frozenset(days)
    return WorkCalendar(off, work)


def default_calendar() -> WorkCalendar:
    """The calendar shipped with casehub (2023-2026)."""
    text = resources.files("casehub.domain").joinpath("data/holidays.toml").read_text(encoding="utf-8")
    return parse_calendar(text)
