"""Property tests (hypothesis) of what must hold on every case, whatever the policy's figures:

- warranty: a refund never exceeds the price and never goes negative;
- scrap_pricing: the floor price never exceeds the market value;
- depreciation: accumulated depreciation never exceeds 96% of cost, and never
  decreases as as_of moves forward;
- sla: every due time is after the request time.

Cases come from the shared generator (tests/strategies.py, engine.tooling.cases), repaired by it
when the rule set rejects them; they are decided by the Python backend only (the backends' agreement
is asserted once, in tests/engine/evaluation/backends/test_backends_agree.py).
"""
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.types import CHINA, parse_date, parse_datetime
from tests.strategies import cases, generator

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


def decide(gen, case, as_of):
    """The decision (JSON) after the generator's repair, and the case as decided; None when it
    stays invalid."""
    decision, case = gen.decide(case, as_of)
    return (None if decision is None else decision.to_json()), case


@pytest.fixture(scope="module")
def warranty(books):
    return generator(books["python"].get("warranty"))


@pytest.fixture(scope="module")
def warranty_cases(warranty):
    return cases(warranty, vary=("price",)).flatmap(lambda d: st.sampled_from(["return", "exchange", d[0].get("request", "repair")]).map(
        lambda request: (dict(d[0], request=request), d[1])))


def test_refund_never_exceeds_the_price_nor_goes_negative(warranty, warranty_cases):
    refunds = []

    @SETTINGS
    @given(drawn=warranty_cases)
    def check(drawn):
        decision, case = decide(warranty, *drawn)
        if decision is None:
            return
        out = decision["decision"]
        deduction = Decimal(out.get("deduction", "0"))
        assert deduction >= 0
        if "refund" in out:
            refund, price = Decimal(out["refund"]), Decimal(str(case["price"]))
            assert Decimal(0) <= refund <= price, (case, out)
            assert refund == price - deduction
            refunds.append(refund)
    check()
    assert len(set(refunds)) >= 5, f"the generated cases reach only {len(set(refunds))} refund amounts"


def test_floor_price_never_exceeds_market_value(books):
    gen = generator(books["python"].get("scrap_pricing"))

    @SETTINGS
    @given(drawn=cases(gen))
    def check(drawn):
        decision, case = decide(gen, *drawn)
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
    depreciation = books["python"].get("depreciation")

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
            out = depreciation.decide(case, as_of=day.isoformat()).to_json()["decision"]
            accumulated = Decimal(out["accumulated_depreciation"])
            assert Decimal(0) <= accumulated <= cap, (case, day, out)
            assert accumulated >= last, f"depreciation went down on {day}: {accumulated} < {last}"
            assert Decimal(out["book_value"]) == cost - accumulated
            last = accumulated
    check()


def test_every_due_time_is_after_its_request_time(books):
    dues = ("response_due", "appraisal_due", "onsite_due", "resolution_due")
    gen = generator(books["python"].get("sla"))

    @SETTINGS
    @given(drawn=cases(gen), kind=st.sampled_from(["repair", "complaint", "platform_fault", "quality_incident"]))
    def check(drawn, kind):
        case, as_of = drawn
        case = dict(case, kind=kind, program=case.get("program") if case.get("program") in ("standard", "furniture")
                    else "standard")
        decision, case = decide(gen, case, as_of)
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
