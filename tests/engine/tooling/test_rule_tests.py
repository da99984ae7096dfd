"""The YAML rule tests of rules/tests/, run on both backends, plus rule coverage."""
import pytest

from engine.tooling.ruletests import coverage, load_tests, run_test

from tests.conftest import RULES

TESTS = load_tests(RULES)


def test_shipped_rules_load_cleanly(books):
    for book in books.values():
        assert not book.errors, "\n".join(str(p) for p in book.all_problems())
        assert {"warranty", "scrap_pricing", "depreciation", "sla"} <= set(book.rulesets)


@pytest.mark.parametrize("test", TESTS, ids=[f"{t.ruleset}:{t.line}:{t.name}" for t in TESTS])
def test_rule_case(books, test):
    durable = run_test(books["durable"].get(test.ruleset), test, "durable")
    python = run_test(books["python"].get(test.ruleset), test, "python")
    assert durable.passed, "\n".join(durable.failures)
    assert python.passed, "\n".join(python.failures)


def test_every_rule_fires_in_some_test(books):
    results = [run_test(books["python"].get(t.ruleset), t, "python") for t in TESTS]
    missing = {name: never for name, (_, _, never) in coverage(books["python"], results).items() if never}
    assert not missing, f"rules no test fires: {missing}"
