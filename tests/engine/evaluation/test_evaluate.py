"""Which rules are in force (engine/evaluation/evaluate.py): effective dates, read from the case or
from the as_of date, on both backends."""
import pytest

from tests.engine.demo import BACKENDS, fired_ids, load


# --- effective dates ---------------------------------------------------------------------

EFFECTIVE = """\
    effective_date: purchase_date
    inputs:
      purchase_date: {type: date}
      months: {type: integer, default: 0}
    outputs:
      warranty: {type: string}
    stages:
      - name: s
        rules:
          - id: OLD
            title: old policy
            source: test § 1
            effective_to: 2020-12-31
            when: months < 12
            then: {warranty: old}
          - id: NEW
            title: new policy
            source: test § 2
            effective_from: 2021-01-01
            when: months < 24
            then: {warranty: new}
          - id: ALWAYS
            title: no dates
            source: test § 3
            when: months > 100
            then: {warranty: none}
    """


@BACKENDS
@pytest.mark.parametrize("purchase, months, warranty, fired, not_fired", [
    ("2020-12-31", 6, "old", ["OLD"], ["ALWAYS"]),
    ("2021-01-01", 6, "new", ["NEW"], ["ALWAYS"]),
    ("2020-06-01", 18, None, [], ["OLD", "ALWAYS"]),
    ("2024-06-01", 30, None, [], ["NEW", "ALWAYS"]),
])
def test_effective_dates_select_rules_by_purchase_date(tmp_path, backend, purchase, months, warranty, fired,
                                                       not_fired):
    book = load(tmp_path, EFFECTIVE, backend)
    d = book.decide("demo", {"purchase_date": purchase, "months": months}, as_of="2026-11-25", explain="full")
    assert d.outputs.get("warranty") == warranty
    assert fired_ids(d) == fired
    # a rule outside its dates is not "not fired": it is not in force at all
    assert [e["id"] for e in d.not_fired] == not_fired


@BACKENDS
def test_effective_date_defaults_to_the_as_of_date(tmp_path, backend):
    book = load(tmp_path, EFFECTIVE.replace("    effective_date: purchase_date\n", ""), backend)
    case = {"purchase_date": "2020-06-01", "months": 6}
    assert fired_ids(book.decide("demo", case, as_of="2020-12-31")) == ["OLD"]
    assert fired_ids(book.decide("demo", case, as_of="2021-01-01")) == ["NEW"]
