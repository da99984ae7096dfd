"""Property tests (hypothesis) of what must hold on every case, whatever the policy's figures:

- warranty: a refund never exceeds the price and never goes negative;
- scrap_pricing: the floor price never exceeds the market value;
- depreciation: accumulated depreciation never exceeds 96% of cost, and never
  decreases as as_of moves forward;
- sla: every due time is after the request time;
- on each of these cases the durable-rules and Python backends give the same decision.

Cases come from the differential tests' strategies (each rule set's own inputs); a
case the rule set rejects is repaired once by dropping the optional fields its
errors name, so many examples reach the rules (at least a fifth of warranty cases, whose
required purchase date is often after as_of; more for the others).
"""
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import CaseError, DecisionConflict
from engine.types import CHINA, parse_date, parse_datetime

from .test_backends_agree import AS_OF, _cases

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


def decide(books, name, case, as_of):
    """Both backends' decisions (JSON) after repairing the case; None when it stays invalid."""
    python, durable = books["python"].get(name), books["durable"].get(name)
    required = {n for n, i in python.ruleset.inputs.items() if i.required}
    for _ in range(3):
        try:
            p = python.decide(case, as_of=as_of).to_json()
        except CaseError as e:
            if set(e.errors) & required or not set(e.errors) <= set(case):
                return None, case
            case = {k: v for k, v in case.items() if k not in e.errors}
            continue
        except DecisionConflict:
            return None, case
        d = durable.decide(case, as_of=as_of).to_json()
        assert d == p, f"the backends disagree on {case} as of {as_of}"
        return p, case
    return None, case


def test_the_repair_reaches_the_rules_on_most_cases(books):
    reached = []

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=True)
    @given(case=_cases(books["python"].get("warranty").ruleset), as_of=AS_OF)
    def run(case, as_of):
        reached.append(decide(books, "warranty", case, as_of)[0] is not None)
    run()
    print(f"{sum(reached)} of {len(reached)} warranty cases decided")
    assert sum(reached) >= len(reached) // 5, f"only {sum(reached)} of {len(reached)} warranty cases decided"


@pytest.fixture(scope="module")
def warranty_cases(books):
    rs = books["python"].get("warranty").ruleset
    return _cases(rs).flatmap(lambda c: st.sampled_from(["return", "exchange", c.get("request", "repair")]).map(
        lambda request: dict(c, request=request)))


def test_refund_never_exceeds_the_price_nor_goes_negative(books, warranty_cases):
    @SETTINGS
    @given(case=warranty_cases, as_of=AS_OF)
    def check(case, as_of):
        decision, case = decide(books, "warranty", case, as_of)
        if decision is None:
            return
        out = decision["decision"]
        deduction = Decimal(out.get("deduction", "0"))
        assert deduction >= 0
        if "refund" in out:
            refund, price = Decimal(out["refund"]), Decimal(str(case["price"]))
            assert Decimal(0) <= refund <= price, (case, out)
            assert refund == price - deduction
    check()


def test_floor_price_never_exceeds_market_value(books):
    @SETTINGS
    @given(case=_cases(books["python"].get("scrap_pricing").ruleset), as_of=AS_OF)
    def check(case, as_of):
        decision, case = decide(books, "scrap_pricing", case, as_of)
        if decision is None:
            return
        out = decision["decision"]
        if "weight_t" not in case:  # only a returned part may come without a weight: then no price at all
            assert out["disposition"] == "return_to_company" and "floor_price" not in out, out
            return
        assert Decimal(0) <= Decimal(out["floor_price"]) <= Decimal(out["market_value"]), out
    check()


MONEY = st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False, allow_infinity=False)


def test_accumulated_depreciation_capped_at_96_percent_and_never_decreasing(books):
    @SETTINGS
    @given(cost=MONEY, stock_in=st.dates(date(2015, 1, 1), date(2027, 1, 1)),
           kind=st.sampled_from(["qualified", "nonconforming_branch", "hq_consignment"]),
           steps=st.lists(st.integers(0, 400), min_size=2, max_size=8))
    def check(cost, stock_in, kind, steps):
        case = {"cost": str(cost), "stock_in_date": stock_in.isoformat(), "stock_kind": kind}
        day, last = stock_in, Decimal(-1)
        cap = (cost * Decimal("0.96")).quantize(Decimal("0.01"))
        for step in steps:
            day += timedelta(days=step)
            decision, _ = decide(books, "depreciation", case, day.isoformat())
            out = decision["decision"]
            accumulated = Decimal(out["accumulated_depreciation"])
            assert Decimal(0) <= accumulated <= cap, (case, day, out)
            assert accumulated >= last, f"depreciation went down on {day}: {accumulated} < {last}"
            assert Decimal(out["book_value"]) == cost - accumulated
            last = accumulated
    check()


def test_every_due_time_is_after_its_request_time(books):
    dues = ("response_due", "appraisal_due", "onsite_due", "resolution_due")

    @SETTINGS
    @given(case=_cases(books["python"].get("sla").ruleset), as_of=AS_OF,
           kind=st.sampled_from(["repair", "complaint", "platform_fault", "quality_incident"]))
    def check(case, as_of, kind):
        case = dict(case, kind=kind, program=case.get("program") if case.get("program") in ("standard", "furniture")
                    else "standard")
        decision, case = decide(books, "sla", case, as_of)
        if decision is None or "requested_at" not in case:
            return
        requested = parse_datetime(case["requested_at"])
        for name in dues:
            if name in decision["decision"]:
                assert parse_datetime(decision["decision"][name]) > requested, (case, decision["decision"])
    check()


def test_dates_are_read_in_china_time():  # a guard for the properties above, which compare instants
    assert parse_datetime("2026-11-25") == datetime(2026, 11, 25, tzinfo=CHINA)
    assert parse_date("2026-11-25") == date(2026, 11, 25)
