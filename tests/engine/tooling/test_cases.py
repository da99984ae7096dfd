"""engine.tooling.cases: the generated cases of the benchmarks and the property tests are valid,
repeatable, and reach every rule of the shipped rule sets."""
from datetime import datetime

import pytest

from engine.tooling.cases import valid_cases
from engine.types import CHINA
from tests.conftest import RULES

NAMES = ["depreciation", "scrap_pricing", "sla", "warranty"]


@pytest.mark.parametrize("name", NAMES)
def test_generated_cases_are_decided_and_make_every_rule_fire(books, name):
    loaded = books["python"].get(name)
    fired = set()
    for case, as_of in valid_cases(loaded, 1500, seed=5, rules_dir=RULES):
        fired |= {f["id"] for f in loaded.decide(case, as_of=as_of).fired}  # raises if it were invalid
    assert fired == {r.id for r in loaded.ruleset.rules}


def test_a_seed_gives_the_same_cases_and_another_seed_others(books):
    loaded = books["python"].get("warranty")
    first = valid_cases(loaded, 50, seed=1, rules_dir=RULES)
    assert valid_cases(loaded, 50, seed=1, rules_dir=RULES) == first
    assert valid_cases(loaded, 50, seed=2, rules_dir=RULES) != first
    assert len({a for _, a in first}) > 25  # as_of spread over the window


def test_a_given_as_of_is_every_case_s_and_cases_need_no_rule_tests(books):
    as_of = datetime(2026, 3, 1, 10, tzinfo=CHINA)
    cases = valid_cases(books["python"].get("sla"), 30, seed=1, as_of=as_of)
    assert len(cases) == 30 and {a for _, a in cases} == {as_of.isoformat()}
