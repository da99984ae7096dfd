"""Differential testing: on random cases the durable-rules and Python backends agree.

Cases are generated from each rule set's own `inputs` declaration, so a new input
is covered without touching this file.
"""
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import CaseError, DecisionConflict
from engine.types import CHINA

AS_OF = st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2027, 6, 30)).map(
    lambda d: d.replace(microsecond=0, tzinfo=CHINA).isoformat())


def _strings(ruleset):
    """Text values worth trying: every table key of the rule set, plus one it does not know."""
    keys = {k for t in ruleset.tables.values() for k in t.rows if isinstance(k, str)}
    return st.sampled_from(sorted(keys | {"浙江", "其他"}))


def _value(inp, ruleset):
    t = inp.type
    k = t.kind
    if k == "enum":
        return st.sampled_from(t.values)
    if k == "boolean":
        return st.booleans()
    if k == "integer":
        lo = int(inp.minimum) if inp.minimum is not None else 0
        hi = int(inp.maximum) if inp.maximum is not None else 200_000
        return st.one_of(st.integers(lo, min(hi, lo + 100)), st.integers(lo, hi))
    if k in ("decimal", "money"):
        lo = inp.minimum if inp.minimum is not None else Decimal(0)
        hi = inp.maximum if inp.maximum is not None else Decimal(100_000)
        places = 2 if k == "money" else 3
        return st.decimals(min_value=lo, max_value=hi, places=places, allow_nan=False, allow_infinity=False).map(str)
    if k == "date":
        return st.dates(date(2018, 1, 1), date(2027, 6, 30)).map(date.isoformat)
    if k == "datetime":
        return st.datetimes(datetime(2025, 9, 1), datetime(2027, 1, 31)).map(
            lambda d: d.replace(microsecond=0, tzinfo=CHINA).isoformat())
    if k == "string":
        return _strings(ruleset)
    if k == "list":
        item = type(inp)(inp.name, t.item)
        lo = inp.min_items or 0
        return st.lists(_value(item, ruleset), min_size=lo, max_size=max(lo, 4))
    raise AssertionError(f"no strategy for {t}")


def _cases(ruleset):
    fields = {}
    for name, inp in ruleset.inputs.items():
        strategy = _value(inp, ruleset)
        fields[name] = strategy if inp.required else st.one_of(st.none(), strategy)
    return st.fixed_dictionaries(fields).map(lambda d: {k: v for k, v in d.items() if v is not None})


def _decide(loaded, case, as_of):
    try:
        return loaded.decide(case, as_of=as_of, explain="full").to_json()
    except CaseError as e:
        return {"rejected": sorted(e.errors)}
    except DecisionConflict as e:
        return {"conflict": e.output}


@pytest.mark.parametrize("name", ["warranty", "scrap_pricing", "depreciation", "sla"])
def test_backends_agree_on_random_cases(books, name):
    durable, python = books["durable"].get(name), books["python"].get(name)

    @settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=_cases(python.ruleset), as_of=AS_OF)
    def check(case, as_of):
        assert _decide(durable, case, as_of) == _decide(python, case, as_of)

    check()
