"""Each construct of the rule language (docs/rule-language.md), evaluated end to end: a small rule set
is written to a temporary folder, loaded with RuleBook and decided. How outputs are combined and
tables hit is in tests/engine/evaluation/test_resolution.py, effective dates in test_evaluate.py, the
explanation in tests/engine/explanation/test_explain.py."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from freezegun import freeze_time

from engine.errors import CaseError

from tests.engine.demo import AS_OF, BACKENDS, fired_ids, load, probe


# --- inputs, parameters, tables, derived facts -------------------------------------------

@BACKENDS
def test_inputs_of_each_type_take_their_defaults(tmp_path, backend):
    book = load(tmp_path, """\
        inputs:
          s: {type: string, default: hello}
          e: {type: enum, values: [domestic, imported], default: imported}
          i: {type: integer, default: 3}
          x: {type: decimal, default: 0.5}
          m: {type: money, default: 10}
          d: {type: date, default: 2026-01-31}
          t: {type: datetime, default: "2026-01-31T08:00:00+08:00"}
          b: {type: boolean, default: true}
          l: {type: list, of: integer, default: [1, 2]}
          absent: {type: integer}
        outputs:
          os: {type: string}
          oe: {type: enum, values: [domestic, imported]}
          oi: {type: integer}
          ox: {type: decimal}
          om: {type: money}
          od: {type: date}
          ot: {type: datetime}
          ob: {type: boolean}
          ol: {type: list, of: integer}
          oabsent: {type: integer}
        stages:
          - name: s
            rules:
              - id: R
                title: echo
                source: test § 1
                when: true
                then: {os: = s, oe: = e, oi: = i, ox: = x, om: = m, od: = d, ot: = t, ob: = b, ol: = l,
                       oabsent: = absent}
        """, backend)
    d = book.decide("demo", {}, as_of=AS_OF)
    assert d.outputs == {"os": "hello", "oe": "imported", "oi": 3, "ox": "0.5", "om": "10.00",
                         "od": "2026-01-31", "ot": "2026-01-31T08:00:00+08:00", "ob": True, "ol": [1, 2]}
    # a sent value replaces the default
    d = book.decide("demo", {"i": 7, "e": "domestic", "absent": 1}, as_of=AS_OF)
    assert (d.outputs["oi"], d.outputs["oe"], d.outputs["oabsent"]) == (7, "domestic", 1)


@BACKENDS
def test_parameters_short_and_long_form_are_exact_decimals(tmp_path, backend):
    book = load(tmp_path, """\
        parameters:
          floor_ratio:
            value: 0.85
            title: 正常销售底价比例
            source: seed.txt § 7.2.2
          small_sale_value: 100
          step: 0.1
        inputs:
          n: {type: integer, default: 3}
        outputs:
          a: {type: decimal}
          b: {type: boolean}
          c: {type: string}
        stages:
          - name: s
            rules:
              - id: R
                title: t
                source: test § 1
                when: n * small_sale_value > 250
                then:
                  a: = floor_ratio * n
                  b: = step + step + step == 0.3
                  c: big
        """, backend)
    params = book.get("demo").ruleset.parameters
    assert params["floor_ratio"].value == Decimal("0.85") and type(params["floor_ratio"].value) is Decimal
    assert params["small_sale_value"].value == 100
    assert params["step"].value == Decimal("0.1") and type(params["step"].value) is Decimal
    d = book.decide("demo", {}, as_of=AS_OF)
    assert d.outputs == {"a": "2.55", "b": True, "c": "big"}  # a float would give 2.5500000000000003, False
    assert book.decide("demo", {"n": 2}, as_of=AS_OF).outputs == {}


TABLES = """\
    inputs:
      region: {type: string}
      category: {type: string}
    tables:
      remote_region_discount:
        title: 偏远地区降价幅度
        rows:
          宁夏: 0.10
          新疆: 0.15
      warranty_period:
        rows:
          electronics: {main_unit_months: 12, accessory_months: 6}
          furniture: {main_unit_months: 24, accessory_months: 12}
    outputs:
      discount: {type: decimal}
      raw_discount: {type: decimal}
      months: {type: integer}
      accessory: {type: integer}
    stages:
      - name: s
        rules:
          - id: R
            title: t
            source: test § 1
            when: true
            then:
              discount: = coalesce(lookup(remote_region_discount, region), 0)
              raw_discount: = lookup(remote_region_discount, region)
              months: = coalesce(lookup(warranty_period, category, 'main_unit_months'), 0)
              accessory: = lookup(warranty_period, category, 'accessory_months')
    """


@BACKENDS
@pytest.mark.parametrize("case, expected", [
    ({"region": "新疆", "category": "furniture"},
     {"discount": "0.15", "raw_discount": "0.15", "months": 24, "accessory": 12}),
    ({"region": "宁夏", "category": "electronics"},
     {"discount": "0.10", "raw_discount": "0.10", "months": 12, "accessory": 6}),
    # a key the table does not have → null → coalesce supplies the fallback; without it, absent
    ({"region": "浙江", "category": "toys"}, {"discount": "0", "months": 0}),
    ({}, {"discount": "0", "months": 0}),
])
def test_tables_plain_and_with_columns(tmp_path, backend, case, expected):
    book = load(tmp_path, TABLES, backend)
    assert book.decide("demo", case, as_of=AS_OF).outputs == expected


@BACKENDS
def test_derived_facts_are_computed_in_order_and_conditions_read_them(tmp_path, backend):
    book = load(tmp_path, """\
        inputs:
          weight_t: {type: decimal, default: 0}
          prices: {type: list, of: money}
        derived:
          avg_price: mean(prices)
          market_value: round_money(weight_t * avg_price)
          is_big: market_value >= 1000
        outputs:
          value: {type: money}
          size: {type: string}
        stages:
          - name: s
            rules:
              - id: BIG
                title: t
                source: test § 1
                when: is_big
                then: {value: = market_value, size: big}
              - id: SMALL
                title: t
                source: test § 2
                when: not is_big
                then: {value: = market_value, size: small}
        """, backend)
    d = book.decide("demo", {"weight_t": "2.5", "prices": ["300.00", "500.01"]}, as_of=AS_OF)
    assert d.outputs == {"value": "1000.01", "size": "big"}  # 2.5 × 400.005 = 1000.0125 → 1000.01
    assert fired_ids(d) == ["BIG"]
    d = book.decide("demo", {"weight_t": "2", "prices": ["300.00", "500.00"]}, as_of=AS_OF)
    assert d.outputs == {"value": "800.00", "size": "small"}


@BACKENDS
def test_a_later_stage_reads_an_earlier_stage_output(tmp_path, backend):
    book = load(tmp_path, """\
        inputs:
          points: {type: integer, default: 0}
        outputs:
          tier: {type: enum, values: [gold, silver], default: silver}
          bonus: {type: money}
          label: {type: string}
        stages:
          - name: tiering
            rules:
              - id: GOLD
                title: t
                source: test § 1
                when: points >= 100
                then: {tier: gold}
          - name: rewards
            derived:
              doubled: points * 2
            rules:
              - id: GOLD-BONUS
                title: t
                source: test § 2
                when: tier == 'gold'
                then: {bonus: = doubled * 0.5, label: = 'tier ' + tier}
              - id: SILVER-LABEL
                title: t
                source: test § 3
                when: tier != 'gold'
                then: {label: plain}
        """, backend)
    d = book.decide("demo", {"points": 150}, as_of=AS_OF)
    assert d.outputs == {"tier": "gold", "bonus": "150.00", "label": "tier gold"}
    assert fired_ids(d) == ["GOLD", "GOLD-BONUS"]
    assert [f["stage"] for f in d.fired] == ["tiering", "rewards"]
    # the default of an earlier stage's output is what the later stage sees
    d = book.decide("demo", {"points": 10}, as_of=AS_OF)
    assert d.outputs == {"tier": "silver", "label": "plain"}
    assert fired_ids(d) == ["SILVER-LABEL"]


# --- conditions --------------------------------------------------------------------------

CONDITIONS = """\
    inputs:
      n: {type: integer}
      m: {type: decimal}
      flag: {type: boolean, default: false}
      kind: {type: enum, values: [repair, complaint, other]}
    outputs:
      hits: {type: string, combine: collect}
    stages:
      - name: s
        rules:
          - id: STRING
            title: a single expression
            source: test § 1
            when: n > 5 and kind in ['repair', 'complaint']
            then: {hits: STRING}
          - id: LIST
            title: a list means all of it
            source: test § 2
            when:
              - n > 5
              - m <= 2.5
            then: {hits: LIST}
          - id: NESTED
            title: any / all / not
            source: test § 3
            when:
              any:
                - flag
                - all:
                    - 0 < n <= 3
                    - not: kind == 'complaint'
            then: {hits: NESTED}
          - id: NOT-LIST
            title: not of a list
            source: test § 4
            when:
              not: [n > 5, m > 1]
            then: {hits: NOT-LIST}
    """


@BACKENDS
@pytest.mark.parametrize("case, expected", [
    ({"n": 6, "m": "2.5", "kind": "repair"}, ["STRING", "LIST"]),
    ({"n": 6, "m": "2.6", "kind": "other"}, []),
    ({"n": 6, "m": "0.5", "kind": "other"}, ["LIST", "NOT-LIST"]),
    ({"n": 2, "m": "3", "kind": "repair"}, ["NESTED", "NOT-LIST"]),
    ({"n": 2, "m": "3", "kind": "complaint"}, ["NOT-LIST"]),
    ({"n": 9, "m": "3", "kind": "complaint", "flag": True}, ["STRING", "NESTED"]),
    ({"n": 0, "m": "3", "kind": "repair"}, ["NOT-LIST"]),
])
def test_when_as_string_list_and_all_any_not(tmp_path, backend, case, expected):
    book = load(tmp_path, CONDITIONS, backend)
    d = book.decide("demo", case, as_of=AS_OF)
    assert fired_ids(d) == expected
    assert d.outputs.get("hits", []) == expected


# --- values: money, numbers, dates ---------------------------------------------------------

@BACKENDS
def test_money_is_written_with_two_decimals(tmp_path, backend):
    book = load(tmp_path, """\
        inputs:
          price: {type: money}
        outputs:
          literal: {type: money}
          echoed: {type: money}
          computed: {type: money}
        stages:
          - name: s
            rules:
              - id: R
                title: t
                source: test § 1
                when: true
                then: {literal: 1234.5, echoed: = price, computed: = price * 3}
        """, backend)
    d = book.decide("demo", {"price": "1234.5"}, as_of=AS_OF)
    assert d.outputs == {"literal": "1234.50", "echoed": "1234.50", "computed": "3703.50"}
    assert d.fired[0]["sets"] == d.outputs
    assert book.decide("demo", {"price": 7}, as_of=AS_OF).outputs["echoed"] == "7.00"


@pytest.mark.parametrize("value, expected", [
    ("0.125", "0.13"), ("0.124", "0.12"), ("0.115", "0.12"), ("2.675", "2.68"), ("1234.5", "1234.50"),
    ("0.005", "0.01"), ("0.0049", "0.00"),
])
def test_round_money_is_half_up_at_half_a_fen(tmp_path, value, expected):
    # once on a literal (folded at load), once on a case value (computed per decision)
    assert probe(tmp_path / "lit", f"round_money({value})", "money").outputs == {"v": expected}
    d = probe(tmp_path / "case", "round_money(x)", "money", "{x: {type: decimal}}", {"x": value})
    assert d.outputs == {"v": expected}
    # a money output is rounded the same way when written, rounded in the rule or not
    d = probe(tmp_path / "raw", "x", "money", "{x: {type: decimal}}", {"x": value})
    assert d.outputs == {"v": expected}


@pytest.mark.parametrize("expr, out_type, expected", [
    ("add_months(date('2026-01-31'), 1)", "date", "2026-02-28"),
    ("add_months(date('2024-01-31'), 1)", "date", "2024-02-29"),
    ("add_months(date('2026-03-31'), -1)", "date", "2026-02-28"),
    ("add_years(date('2024-02-29'), 1)", "date", "2025-02-28"),
    ("add_days(date('2026-02-28'), 1)", "date", "2026-03-01"),
    ("months_between(date('2026-01-31'), date('2026-02-28'))", "integer", 1),
    ("months_between(date('2026-01-15'), date('2026-02-14'))", "integer", 0),
    ("months_between(date('2026-01-15'), date('2026-02-15'))", "integer", 1),
    ("months_between(date('2025-11-30'), date('2026-11-29'))", "integer", 11),
    ("days_between(date('2026-01-01'), date('2026-03-01'))", "integer", 59),
    ("days_between(date('2026-03-01'), date('2026-01-01'))", "integer", -59),
    ("date('2026-03-01') - date('2026-01-01')", "integer", 59),
    ("date('2026-02-27') + 2", "date", "2026-03-01"),
    ("date('2026-03-01') - 1", "date", "2026-02-28"),
    ("hours_between(start_of_day(date('2026-01-01')), end_of_day(date('2026-01-01')))", "decimal",
     str(Decimal(86399) / 3600)),
    ("add_hours(start_of_day(date('2026-01-01')), 36)", "datetime", "2026-01-02T12:00:00+08:00"),
    ("date(add_minutes(end_of_day(date('2026-01-31')), 1))", "date", "2026-02-01"),
    ("mean([1, 2, 4])", "decimal", str(Decimal(7) / 3)),
    ("mean([1.5, 2.5])", "decimal", "2"),
    ("sum([1.25, 2.5])", "decimal", "3.75"),
    ("count([1, 2, 3])", "integer", 3),
    ("min(3, 1.5, 2)", "decimal", "1.5"),
    ("max([3, 7, 2])", "integer", 7),
    ("clamp(15, 0, 10)", "integer", 10),
    ("clamp(-1, 0, 10)", "integer", 0),
    ("clamp(0.5, 0, 10)", "decimal", "0.5"),
    ("abs(-2.5)", "decimal", "2.5"),
    ("round(2.345, 2)", "decimal", "2.35"),
    ("7 // 2", "integer", 3),
    ("7 % 3", "integer", 1),
    ("7 / 2", "decimal", "3.5"),
    ("1 if 0 < 2 <= 2 else 0", "integer", 1),
    ("'a' + 'b'", "string", "ab"),
])
def test_functions_and_operators(tmp_path, expr, out_type, expected):
    assert probe(tmp_path, expr, out_type).outputs == {"v": expected}


@pytest.mark.parametrize("expr, out_type, case, expected", [
    ("add_months(d, n)", "date", {"d": "2026-01-31", "n": 1}, "2026-02-28"),
    ("add_months(d, n)", "date", {"d": "2024-01-31", "n": 1}, "2024-02-29"),
    ("add_years(d, n)", "date", {"d": "2024-02-29", "n": 1}, "2025-02-28"),
    ("months_between(d, d2)", "integer", {"d": "2026-01-31", "d2": "2026-02-28"}, 1),
    ("months_between(d, d2)", "integer", {"d": "2026-01-15", "d2": "2026-02-14"}, 0),
    ("days_between(d, d2)", "integer", {"d": "2026-01-15", "d2": "2026-02-14"}, 30),
    ("d2 - d", "integer", {"d": "2026-01-15", "d2": "2026-02-14"}, 30),
    ("d + n", "date", {"d": "2026-01-31", "n": 29}, "2026-03-01"),
    ("mean(prices)", "money", {"prices": ["1.00", "2.00", "2.01"]}, "1.67"),
    ("min(prices)", "money", {"prices": ["3.00", "2.00", "2.01"]}, "2.00"),
    ("max(prices)", "money", {"prices": ["3.00", "2.00", "2.01"]}, "3.00"),
    ("clamp(n, 0, 10)", "integer", {"n": 11}, 10),
    ("clamp(n, 0, 10)", "integer", {"n": -3}, 0),
    ("min(n, 5)", "integer", {}, None),  # a null argument → unknown → the output is absent
    ("mean(prices)", "money", {}, None),
    ("add_months(d, n)", "date", {"n": 1}, None),
])
def test_functions_on_case_values(tmp_path, expr, out_type, case, expected):
    inputs = "{d: {type: date}, d2: {type: date}, n: {type: integer}, prices: {type: list, of: money}}"
    d = probe(tmp_path, expr, out_type, inputs, case)
    assert d.outputs == ({} if expected is None else {"v": expected})


def test_round_of_a_whole_number(tmp_path):
    d = probe(tmp_path / "case", "round(n, 1)", "decimal", "{n: {type: integer}}", {"n": 3})
    assert d.outputs == {"v": "3"}
    assert probe(tmp_path / "lit", "round(2, 1)", "decimal").outputs == {"v": "2"}


def test_date_plus_a_huge_integer_is_unknown_with_a_warning(tmp_path):
    # like add_days() and add_months(): past year 9999 the value is unknown and the decision says why, never a crash
    inputs = "{d: {type: date}, n: {type: integer}}"
    for expr in ("d + n", "d - n", "add_days(d, n)", "add_months(d, n)", "add_years(d, n)"):
        d = probe(tmp_path / expr.replace(" ", "")[:6], expr, "date", inputs, {"d": "2026-01-01", "n": 1_000_000_000})
        assert d.outputs == {}, expr
        assert len(d.warnings) == 1 and "could not be computed" in d.warnings[0], expr


def test_a_decimal_too_large_to_compute_with_is_refused_before_evaluation(tmp_path):
    # (it was read, and `x * x` overflowed to a warning; now the case reader bounds it: engine.types)
    with pytest.raises(CaseError) as e:
        probe(tmp_path, "x * x", "decimal", "{x: {type: decimal}}", {"x": "1E+999999"})
    assert "too large" in e.value.errors["x"][0]


# --- today, as_of and the working-day calendar ----------------------------------------------

@BACKENDS
def test_as_of_and_today(tmp_path, backend):
    book = load(tmp_path, """\
        outputs:
          day: {type: date}
          at: {type: datetime}
        stages:
          - name: s
            rules:
              - id: R
                title: t
                source: test § 1
                when: today >= date('2026-01-01')
                then: {day: = today, at: = as_of}
        """, backend)
    d = book.decide("demo", {}, as_of="2026-03-01")
    assert d.outputs == {"day": "2026-03-01", "at": "2026-03-01T00:00:00+08:00"}
    d = book.decide("demo", {}, as_of="2026-03-01T23:30:00Z")  # 07:30 the next day in China
    assert d.outputs == {"day": "2026-03-02", "at": "2026-03-02T07:30:00+08:00"}
    d = book.decide("demo", {}, as_of="2026-03-01T09:15:00")  # no offset: China time
    assert d.outputs == {"day": "2026-03-01", "at": "2026-03-01T09:15:00+08:00"}
    assert book.decide("demo", {}, as_of="2025-12-31").outputs == {}
    with freeze_time("2026-11-24T17:00:00Z"):  # 01:00 on 25 November in China
        d = book.decide("demo", {})
    assert d.outputs == {"day": "2026-11-25", "at": "2026-11-25T01:00:00+08:00"}
    assert d.as_of == datetime(2026, 11, 25, 1, 0, tzinfo=timezone(timedelta(hours=8)))
    with freeze_time("2026-11-24T15:59:59Z"):  # still 24 November in China
        assert book.decide("demo", {}).outputs["day"] == "2026-11-24"


WORKING_DAYS = """\
    inputs:
      start: {type: datetime, required: true}
      n: {type: integer, default: 1}
    outputs:
      due: {type: datetime}
      also: {type: datetime}
      working: {type: boolean}
    stages:
      - name: s
        rules:
          - id: R
            title: t
            source: test § 1
            when: true
            then:
              due: = working_days_after(start, n)
              also: = working_days_after(date(start), n)
              working: = is_working_day(date(start))
    """


@BACKENDS
@pytest.mark.parametrize("start, n, due, working", [
    ("2026-09-30T10:00:00+08:00", 1, "2026-10-08T23:59:59+08:00", True),  # across National Day
    ("2026-10-09T10:00:00+08:00", 1, "2026-10-10T23:59:59+08:00", True),  # Sat 10-10 is a make-up day
    ("2026-09-19T10:00:00+08:00", 1, "2026-09-20T23:59:59+08:00", False),  # Sun 09-20 is a make-up day
    ("2026-09-30T20:00:00Z", 1, "2026-10-08T23:59:59+08:00", False),  # 04:00 on 1 October in China
    ("2026-11-20T10:00:00+08:00", 5, "2026-11-27T23:59:59+08:00", True),
])
def test_working_days_after_follows_the_prc_calendar(tmp_path, backend, start, n, due, working):
    d = load(tmp_path, WORKING_DAYS, backend).decide("demo", {"start": start, "n": n}, as_of=AS_OF)
    assert d.outputs == {"due": due, "also": due, "working": working}
    assert d.warnings == []


CALENDAR_2027 = """\
    years:
      2027:
        holidays: [2027-03-03]
    """


@BACKENDS
def test_a_year_outside_the_calendar_counts_monday_to_friday_with_one_warning(tmp_path, backend):
    book = load(tmp_path, WORKING_DAYS, backend)
    d = book.decide("demo", {"start": "2027-03-01T09:00:00+08:00", "n": 5}, as_of=AS_OF)  # a Monday
    assert d.outputs["due"] == "2027-03-08T23:59:59+08:00"
    assert d.outputs["working"] is True
    assert len(d.warnings) == 1  # three calls, one year: one warning
    assert "2027" in d.warnings[0]


@BACKENDS
def test_adding_a_year_to_calendar_yaml_changes_the_count_and_removes_the_warning(tmp_path, backend):
    book = load(tmp_path, WORKING_DAYS, backend, calendar=CALENDAR_2027)
    d = book.decide("demo", {"start": "2027-03-01T09:00:00+08:00", "n": 5}, as_of=AS_OF)
    assert d.outputs["due"] == "2027-03-09T23:59:59+08:00"  # Wednesday 03-03 is now a holiday
    assert d.warnings == []
    d = book.decide("demo", {"start": "2027-03-03T09:00:00+08:00", "n": 1}, as_of=AS_OF)
    assert d.outputs["working"] is False


@BACKENDS
def test_working_days_as_a_condition(tmp_path, backend):
    book = load(tmp_path, """\
        inputs:
          requested_at: {type: datetime, required: true}
          resolved_at: {type: datetime}
        outputs:
          status: {type: enum, values: [on_time, late, open], default: open}
        stages:
          - name: s
            derived:
              due: working_days_after(requested_at, 1)
            rules:
              - id: ON-TIME
                title: t
                source: test § 1
                when: resolved_at <= due
                then: {status: on_time}
              - id: LATE
                title: t
                source: test § 2
                when: resolved_at > due
                then: {status: late}
        """, backend)
    case = {"requested_at": "2026-09-30T10:00:00+08:00"}
    assert book.decide("demo", {**case, "resolved_at": "2026-10-08T23:59:59+08:00"}, as_of=AS_OF).outputs == \
        {"status": "on_time"}
    assert book.decide("demo", {**case, "resolved_at": "2026-10-09T00:00:00+08:00"}, as_of=AS_OF).outputs == \
        {"status": "late"}
    assert book.decide("demo", case, as_of=AS_OF).outputs == {"status": "open"}
