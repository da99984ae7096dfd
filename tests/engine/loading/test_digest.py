"""A rule set's digest (its version): the file's text, and the calendar's when an expression
calls a calendar function — not when a comment or a title only names one."""
import textwrap

from engine.calendar import WorkCalendar
from engine.loading.compiler import compile_ruleset

RULES = """\
    ruleset: demo
    version: "1"
    inputs:
      start: {type: date, required: true}
    outputs:
      due: {type: date}
    stages:
      - name: s
        rules:
          - id: R
            title: due date  # working_days_after(start, 3) would be the other way
            source: test § 1
            when: true
            then: {due: "= %s"}
    """


def digest(tmp_path, then, calendar_text):
    path = tmp_path / "demo.yaml"
    path.write_text(textwrap.dedent(RULES % then), encoding="utf-8")
    calendar = WorkCalendar(frozenset(), frozenset(), frozenset(), calendar_text)
    return compile_ruleset(path, calendar).digest


def test_a_calendar_function_named_in_a_comment_leaves_the_calendar_out_of_the_version(tmp_path):
    assert digest(tmp_path, "start + 3", "years: {}") == digest(tmp_path, "start + 3", "years: {2027: {}}")


def test_a_rule_set_that_calls_a_calendar_function_changes_version_with_the_calendar(tmp_path):
    assert digest(tmp_path, "date(working_days_after(start, 3))", "years: {}") != \
        digest(tmp_path, "date(working_days_after(start, 3))", "years: {2027: {}}")
