"""Differential testing: on generated cases the durable-rules and Python backends agree.

This is the one place backend agreement is asserted (the rule tests run on each backend, the
property tests on one). The cases are the shared generator's (tests/strategies.py: check's
boundary candidates of each rule set's own inputs, around its base case and rule tests), so a new
input or threshold is covered without touching this file; they are compared as generated, so a
case one backend would reject must be rejected by the other too.
"""
import pytest
from hypothesis import HealthCheck, given, settings

from engine.errors import CaseError, DecisionConflict
from tests.strategies import cases, generator


def _decide(loaded, case, as_of):
    try:
        return loaded.decide(case, as_of=as_of.isoformat(), explain="full").to_json()
    except CaseError as e:
        return {"rejected": sorted(e.errors)}
    except DecisionConflict as e:
        return {"conflict": e.output}


@pytest.mark.parametrize("name", ["warranty", "scrap_pricing", "depreciation", "sla"])
def test_backends_agree_on_generated_cases(books, name):
    durable, python = books["durable"].get(name), books["python"].get(name)

    @settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(drawn=cases(generator(python)))
    def check(drawn):
        case, as_of = drawn
        assert _decide(durable, case, as_of) == _decide(python, case, as_of)

    check()
