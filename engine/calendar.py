"""The PRC working-day calendar: the `chinese-calendar` package plus `rules/calendar.yaml`.

A working day is Monday–Friday that is not a public holiday, or a weekend day the
State Council made a working day (调休). The package knows the years it shipped
with; policy owners add later years to `rules/calendar.yaml`. For a date in no
known year we count Monday–Friday and report it, so the decision can say so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import chinese_calendar.constants as cc

from engine.errors import Problem, RulesError
from engine.types import CHINA
from engine.loading.yamlsource import Located, load_yaml, position, read_rule_file

END_OF_DAY = time(23, 59, 59)


@dataclass
class WorkCalendar:
    holidays: frozenset
    workdays: frozenset  # weekend days that are working days (调休)
    known_years: frozenset
    digest_text: str = ""  # the calendar file's text, part of a dependent rule set's digest
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def package_only(cls) -> "WorkCalendar":
        years = {d.year for d in cc.holidays} | {d.year for d in cc.workdays}
        return cls(frozenset(cc.holidays), frozenset(cc.workdays), frozenset(years))

    def is_working_day(self, d: date) -> tuple[bool, bool]:
        """(is it a working day, is its year known)."""
        if d in self.workdays:
            return True, True
        if d in self.holidays:
            return False, True
        return d.weekday() < 5, d.year in self.known_years

    def working_days_after(self, start: date, n: int) -> tuple[date, set[int]]:
        """The n-th working day after `start` (start itself not counted), and any unknown years."""
        key = (start, n)
        hit = self._cache.get(key)
        if hit is None:
            unknown: set[int] = set()
            d, left = start, n
            while left > 0:
                d += timedelta(days=1)
                working, known = self.is_working_day(d)
                if not known:
                    unknown.add(d.year)
                if working:
                    left -= 1
            if len(self._cache) > 50_000:  # bounded: deadlines repeat a lot, dates do not grow
                self._cache.clear()
            hit = self._cache[key] = (d, frozenset(unknown))
        return hit[0], set(hit[1])

    def end_of_working_day(self, start: datetime, n: int) -> tuple[datetime, set[int]]:
        d, unknown = self.working_days_after(start.astimezone(CHINA).date(), n)
        return datetime.combine(d, END_OF_DAY, CHINA), unknown


def _dates(node, year: int, filename: str, problems: list[Problem]) -> set[date]:
    out: set[date] = set()
    if node is None:
        return out
    if not isinstance(node, list):
        line, col = position(node)
        problems.append(Problem(filename, line, col, "expected a list of dates or ranges 'YYYY-MM-DD..YYYY-MM-DD'"))
        return out
    for item in node:
        line, col = position(item if getattr(item, "line", 0) else node)  # a YAML date keeps no position
        try:
            if isinstance(item, date):
                first = last = item
            elif isinstance(item, str) and ".." in item:
                a, b = item.split("..", 1)
                first, last = date.fromisoformat(a.strip()), date.fromisoformat(b.strip())
            else:
                first = last = date.fromisoformat(str(item))
        except ValueError:
            problems.append(Problem(filename, line, col, f"{item!r} is not a date YYYY-MM-DD or a range"))
            continue
        if first > last or first.year != year or last.year != year:
            problems.append(Problem(filename, line, col, f"{item} is not inside the year {year}"))
            continue
        out.update(first + timedelta(days=i) for i in range((last - first).days + 1))
    return out


def load_calendar(path: Path, text: str | None = None) -> WorkCalendar:
    """Package data plus the years of `path` (a year in the file replaces the package's);
    `text`, when given, is the file's content (a snapshot the caller already read)."""
    base = WorkCalendar.package_only()
    if text is None:
        if not path.exists():
            return base
        text = read_rule_file(path)
    doc = load_yaml(text, str(path)) or Located()
    problems: list[Problem] = []
    years = doc.get("years") if isinstance(doc, dict) else None
    holidays, workdays, known = set(base.holidays), set(base.workdays), set(base.known_years)
    for year, spec in (years or {}).items():
        line, col = position(years, year)
        if not isinstance(year, int) or not isinstance(spec, dict):
            problems.append(Problem(str(path), line, col, "each year is `YYYY: {holidays: [...], workdays: [...]}`"))
            continue
        off = _dates(spec.get("holidays"), year, str(path), problems)
        on = _dates(spec.get("workdays"), year, str(path), problems)
        for d in off & on:
            problems.append(Problem(str(path), line, col, f"{d} is listed both as a holiday and a working day"))
        holidays = {d for d in holidays if d.year != year} | off
        workdays = {d for d in workdays if d.year != year} | on
        known.add(year)
    if problems:
        raise RulesError(problems)
    return WorkCalendar(frozenset(holidays), frozenset(workdays), frozenset(known), text)
