"""The PRC working-day calendar (engine/calendar.py): the holidays and make-up working weekends of
the `chinese-calendar` package, the years rules/calendar.yaml adds or replaces, and Monday–Friday
with a warning for a year nobody knows. Working days inside rules are tested in test_language.py."""
from datetime import date, datetime

import pytest

from engine.calendar import WorkCalendar, load_calendar
from engine.errors import RulesError
from engine.language.functions import collecting_warnings, make_calendar_functions
from engine.types import CHINA

PACKAGE = WorkCalendar.package_only()


@pytest.mark.parametrize("day, working", [
    (date(2026, 10, 1), False),   # Thursday, National Day (国庆节)
    (date(2026, 2, 17), False),   # Tuesday, Spring Festival (春节)
    (date(2026, 10, 10), True),   # Saturday, a make-up working day (调休上班)
    (date(2026, 9, 20), True),    # Sunday, a make-up working day
    (date(2026, 11, 21), False),  # an ordinary Saturday
    (date(2026, 11, 20), True),   # an ordinary Friday
])
def test_the_package_knows_2026_holidays_and_make_up_weekends(day, working):
    assert PACKAGE.is_working_day(day) == (working, True)


def test_working_days_after_skip_the_national_day_week_and_end_at_the_end_of_the_day():
    assert PACKAGE.working_days_after(date(2026, 9, 30), 1) == (date(2026, 10, 8), set())
    due, unknown = PACKAGE.end_of_working_day(datetime(2026, 9, 30, 10, tzinfo=CHINA), 1)
    assert due == datetime(2026, 10, 8, 23, 59, 59, tzinfo=CHINA) and unknown == set()


def test_a_year_nobody_knows_counts_monday_to_friday_and_says_so():
    assert PACKAGE.is_working_day(date(2027, 3, 1)) == (True, False)   # a Monday
    assert PACKAGE.is_working_day(date(2027, 3, 6)) == (False, False)  # a Saturday
    assert PACKAGE.working_days_after(date(2027, 3, 1), 5) == (date(2027, 3, 8), {2027})


def test_a_rule_counting_in_an_unknown_year_gets_one_warning_naming_it():
    working_days_after, is_working_day = make_calendar_functions(PACKAGE)
    with collecting_warnings() as warnings:
        working_days_after(date(2027, 3, 1), 5)
        is_working_day(date(2027, 3, 3))
    assert len(warnings) == 1
    assert "2027 年的法定节假日安排未知" in warnings[0] and "add 2027 to rules/calendar.yaml" in warnings[0]


def write(tmp_path, text):
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_calendar_yaml_adds_a_year_with_holidays_ranges_and_working_weekends(tmp_path):
    calendar = load_calendar(write(tmp_path, """\
years:
  2027:
    holidays: [2027-03-03, "2027-10-01..2027-10-07"]
    workdays: [2027-03-06]
"""))
    assert 2027 in calendar.known_years
    assert calendar.is_working_day(date(2027, 3, 3)) == (False, True)   # a Wednesday off
    assert calendar.is_working_day(date(2027, 3, 6)) == (True, True)    # a Saturday at work
    assert all(not calendar.is_working_day(date(2027, 10, d))[0] for d in range(1, 8))
    assert calendar.working_days_after(date(2027, 3, 1), 5) == (date(2027, 3, 8), set())
    assert calendar.is_working_day(date(2026, 10, 1)) == (False, True)  # the package's years stay


def test_a_year_in_calendar_yaml_replaces_the_package_year(tmp_path):
    calendar = load_calendar(write(tmp_path, "years:\n  2026:\n    holidays: [2026-03-03]\n"))
    assert calendar.is_working_day(date(2026, 3, 3)) == (False, True)
    assert calendar.is_working_day(date(2026, 10, 1)) == (True, True)   # no longer a holiday
    assert calendar.is_working_day(date(2026, 10, 10)) == (False, True)  # no longer a make-up day


def test_no_calendar_yaml_is_the_package_alone(tmp_path):
    assert load_calendar(tmp_path / "calendar.yaml") == PACKAGE


@pytest.mark.parametrize("text, line, message", [
    ("years:\n  2027:\n    holidays: [2026-12-31]\n", 3, "2026-12-31 is not inside the year 2027"),
    ("years:\n  2027:\n    holidays: [2027-02-30]\n", 3, "'2027-02-30' is not a date YYYY-MM-DD or a range"),
    ("years:\n  2027:\n    holidays: [2027-03-06]\n    workdays: [2027-03-06]\n", 2,
     "2027-03-06 is listed both as a holiday and a working day"),
    ("years:\n  2027: [2027-03-06]\n", 2, "each year is `YYYY: {holidays: [...], workdays: [...]}`"),
])
def test_a_mistake_in_calendar_yaml_is_refused_at_its_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(RulesError) as e:
        load_calendar(path)
    [problem] = e.value.problems
    assert (problem.file, problem.line, problem.message) == (str(path), line, message)
