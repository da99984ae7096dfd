"""A small rule set `demo`, written to a temporary folder and loaded, for the tests of each construct
of the rule language (tests/engine/language, evaluation, explanation): write it, load it, decide it."""
import textwrap

import pytest

from engine.rulebook import RuleBook

BACKENDS = pytest.mark.parametrize("backend", ("python", "durable"))
AS_OF = "2026-06-01"


def write(folder, body, calendar=None):
    """Write `body` (everything after `ruleset:`/`version:`) as folder/demo.yaml, and `calendar` as
    folder/calendar.yaml; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "demo.yaml").write_text('ruleset: demo\nversion: "1"\n' + textwrap.dedent(body), encoding="utf-8")
    if calendar is not None:
        (folder / "calendar.yaml").write_text(textwrap.dedent(calendar), encoding="utf-8")
    return folder


def load(folder, body, backend="python", calendar=None):
    """Write the demo rule set and load the folder; it must load without a problem."""
    book = RuleBook.load(write(folder, body, calendar), backend=backend)
    assert not book.errors, "\n".join(str(p) for p in book.all_problems())
    return book


def one_rule(expr, out_type="decimal", inputs="{}") -> str:
    """The body of a one-rule set whose output `v` is `= expr` (rule R; the expression on line 14 of demo.yaml)."""
    return f"""\
        inputs: {inputs}
        outputs:
          v: {{type: {out_type}}}
        stages:
          - name: s
            rules:
              - id: R
                title: probe
                source: test § 1
                when: true
                then:
                  v: "= {expr}"
        """


def problems_of(folder, expr) -> list[str]:
    """The load problems of the one-rule set of `expr`."""
    return [str(p) for p in RuleBook.load(write(folder, one_rule(expr)), backend="python").all_problems()]


def probe(folder, expr, out_type="decimal", inputs="{}", case=None, as_of=AS_OF, backend="python", calendar=None):
    """Decide the one-rule set of `expr` (of `out_type`); returns the Decision."""
    book = load(folder, one_rule(expr, out_type, inputs), backend, calendar)
    return book.decide("demo", case or {}, as_of=as_of)


def fired_ids(decision):
    return [f["id"] for f in decision.fired]
