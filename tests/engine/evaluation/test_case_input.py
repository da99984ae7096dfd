"""Reading a case against a rule set's declared inputs (engine/evaluation/case.py, through RuleBook.decide):
every bad field is rejected with a message, and all of them at once."""
import pytest

from engine.errors import CaseError
from engine.rulebook import RuleBook

RULES = """\
ruleset: demo
version: "1"
inputs:
  weight_t: {type: decimal, min: 0, required: true}
  quotes: {type: integer, min: 0, max: 10, default: 0}
  origin: {type: enum, values: [domestic, imported], default: domestic}
  prices: {type: list, of: money, min_items: 1, max_items: 3}
  price: {type: money}
  purchase_date: {type: date}
  requested_at: {type: datetime}
  urgent: {type: boolean, default: false}
  customer_name: {type: string}
validations:
  - field: purchase_date
    require: purchase_date <= today
    message: 购买日期不能晚于决策日期 (as_of)
  - field: requested_at
    require: not given(requested_at) or not given(purchase_date) or date(requested_at) >= purchase_date
    message: 报修时间不能早于购买日期
outputs:
  at: {type: datetime}
  paid: {type: money}
  total: {type: money}
  heavy: {type: boolean}
stages:
  - name: s
    rules:
      - id: R
        title: echo
        source: test § 1
        when: true
        then:
          at: = requested_at
          paid: = price
          total: = coalesce(sum(prices), 0)
          heavy: = weight_t > 1
"""
AS_OF = "2026-11-25"


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rules")
    (folder / "demo.yaml").write_text(RULES, encoding="utf-8")
    book = RuleBook.load(folder, backend="python")
    assert not book.errors, book.all_problems()
    return book


def errors(book, case, as_of=AS_OF):
    with pytest.raises(CaseError) as e:
        book.decide("demo", case, as_of=as_of)
    return e.value.errors


def test_a_valid_case_decides(book):
    d = book.decide("demo", {"weight_t": "1.5", "prices": ["1.00", 2, "3.5"], "price": "12.3"}, as_of=AS_OF)
    assert d.outputs == {"paid": "12.30", "total": "6.50", "heavy": True}


@pytest.mark.parametrize("case", [{}, {"weight_t": None}])
def test_missing_required_field(book, case):
    assert errors(book, case) == {"weight_t": ["is required"]}


@pytest.mark.parametrize("field, value, message", [
    ("weight_t", "heavy", "expected a number"),
    ("weight_t", True, "expected a number"),
    ("weight_t", "NaN", "expected a number"),
    ("weight_t", "Infinity", "expected a number"),
    ("quotes", "3", "expected a whole number"),
    ("quotes", 2.5, "expected a whole number"),
    ("urgent", "yes", "expected true or false"),
    ("urgent", 1, "expected true or false"),
    ("customer_name", 5, "expected text"),
    ("origin", 1, "expected text"),
    ("purchase_date", "2026/01/01", "expected a date YYYY-MM-DD"),
    ("purchase_date", "2026-02-30", "expected a date YYYY-MM-DD"),
    ("purchase_date", 20260101, "expected a date YYYY-MM-DD"),
    ("purchase_date", "2026-01-01T10:00:00", "expected a date YYYY-MM-DD"),
    ("requested_at", 5, "expected a date-time"),
    ("requested_at", "tomorrow", "expected a date-time"),
    ("prices", "100", "expected a list"),
    ("prices", ["1.00", "x"], "item 1: expected a number"),
])
def test_wrong_type(book, field, value, message):
    case = {"weight_t": 1, field: value}
    assert list(errors(book, case)) == [field]
    [got] = errors(book, case)[field]
    assert got.startswith(message), got


def test_whole_numbers_may_come_as_json_floats(book):
    book.decide("demo", {"weight_t": 1, "quotes": 3.0}, as_of=AS_OF)  # no error


def test_unknown_enum_value(book):
    assert errors(book, {"weight_t": 1, "origin": "foreign"}) == {"origin": ["must be one of: domestic, imported"]}


def test_unknown_field_is_rejected_with_a_suggestion(book):
    errs = errors(book, {"weight_t": 1, "qoutes": 3, "colour": "red"})
    assert set(errs) == {"qoutes", "colour"}
    [msg] = errs["qoutes"]
    assert "unknown field" in msg and "did you mean 'quotes'?" in msg
    assert "did you mean" not in errs["colour"][0]


@pytest.mark.parametrize("field, value, message", [
    ("weight_t", -1, "must be at least 0"),
    ("weight_t", "-0.001", "must be at least 0"),
    ("quotes", -1, "must be at least 0"),
    ("quotes", 11, "must be at most 10"),
])
def test_numbers_outside_their_bounds(book, field, value, message):
    assert errors(book, {"weight_t": 1, field: value}) == {field: [message]}


def test_bounds_are_inclusive(book):
    book.decide("demo", {"weight_t": 0, "quotes": 10}, as_of=AS_OF)
    book.decide("demo", {"weight_t": 0, "quotes": 0}, as_of=AS_OF)


@pytest.mark.parametrize("value, message", [
    ([], "needs at least 1 item"),
    (["1", "2", "3", "4"], "takes at most 3 items"),
])
def test_list_sizes(book, value, message):
    assert errors(book, {"weight_t": 1, "prices": value}) == {"prices": [message]}


def test_money_has_at_most_two_decimals(book):
    assert errors(book, {"weight_t": 1, "price": "1.234"}) == {"price": ["money has at most two decimals (fen)"]}
    assert errors(book, {"weight_t": 1, "price": 0.125}) == {"price": ["money has at most two decimals (fen)"]}
    assert errors(book, {"weight_t": 1, "prices": ["1.00", "2.005"]}) == \
        {"prices": ["item 1: money has at most two decimals (fen)"]}
    assert book.decide("demo", {"weight_t": 1, "price": 1.5}, as_of=AS_OF).outputs["paid"] == "1.50"
    assert book.decide("demo", {"weight_t": 1, "price": "7"}, as_of=AS_OF).outputs["paid"] == "7.00"


@pytest.mark.parametrize("value, expected", [
    ("2026-09-30T10:00:00", "2026-09-30T10:00:00+08:00"),  # no offset: China time
    ("2026-09-30T10:00", "2026-09-30T10:00:00+08:00"),
    ("2026-09-30T10:00:00+08:00", "2026-09-30T10:00:00+08:00"),
    ("2026-09-30T02:00:00Z", "2026-09-30T10:00:00+08:00"),
    ("2026-09-30T10:00:00-05:00", "2026-09-30T23:00:00+08:00"),
    ("2026-09-30", "2026-09-30T00:00:00+08:00"),  # a date alone: midnight China time
])
def test_date_times_are_read_as_china_time(book, value, expected):
    d = book.decide("demo", {"weight_t": 1, "requested_at": value}, as_of=AS_OF)
    assert d.outputs["at"] == expected


@pytest.mark.parametrize("value", [
    "2026-09-30T10:00:00+25:00",
    "2026-09-30T10:00:00-24:00",
    "2026-09-30T10:00:00+8",
    "2026-09-30T10:00:00ZZ",
    "2026-09-30T10:00:00+08:00 CST",
    "2026-09-30T10:00:00+08:60",
])
def test_a_date_time_with_an_invalid_offset_is_rejected(book, value):
    errs = errors(book, {"weight_t": 1, "requested_at": value})
    assert list(errs) == ["requested_at"]
    assert "expected a date-time" in errs["requested_at"][0]


@pytest.mark.parametrize("as_of", ["yesterday", "2026-02-30", "2026-09-30T10:00:00+25:00", 20261125, "26-11-25"])
def test_an_invalid_as_of_is_rejected(book, as_of):
    errs = errors(book, {"weight_t": 1}, as_of=as_of)
    assert list(errs) == ["as_of"] and errs["as_of"][0]


def test_explain_must_be_fired_or_full(book):
    with pytest.raises(CaseError) as e:
        book.decide("demo", {"weight_t": 1}, as_of=AS_OF, explain="everything")
    assert list(e.value.errors) == ["explain"]


def test_a_case_is_an_object(book):
    assert list(errors(book, ["weight_t", 1])) == ["case"]


def test_a_failing_validation_names_its_field(book):
    assert errors(book, {"weight_t": 1, "purchase_date": "2026-11-26"}) == \
        {"purchase_date": ["购买日期不能晚于决策日期 (as_of)"]}
    book.decide("demo", {"weight_t": 1, "purchase_date": "2026-11-25"}, as_of=AS_OF)  # the same day is fine
    # validations read today from as_of
    book.decide("demo", {"weight_t": 1, "purchase_date": "2026-11-26"}, as_of="2026-11-26T00:00:00+08:00")
    assert errors(book, {"weight_t": 1, "purchase_date": "2026-11-26"}, as_of="2026-11-25T15:59:59Z") == \
        {"purchase_date": ["购买日期不能晚于决策日期 (as_of)"]}


def test_every_failing_validation_is_reported(book):
    errs = errors(book, {"weight_t": 1, "purchase_date": "2026-12-01", "requested_at": "2026-11-30T10:00:00"})
    assert errs == {"purchase_date": ["购买日期不能晚于决策日期 (as_of)"], "requested_at": ["报修时间不能早于购买日期"]}


def test_a_validation_on_a_missing_value_does_not_fail(book):
    # requested_at's check reads two optional facts; unknown is not a failure
    book.decide("demo", {"weight_t": 1, "requested_at": "2026-11-30T10:00:00"}, as_of=AS_OF)


def test_errors_are_collected_for_all_fields_at_once(book):
    case = {
        "quotes": -1,                      # under min
        "origin": "foreign",               # not in the enum
        "prices": [],                      # too few items
        "price": "1.234",                  # three decimals
        "purchase_date": "2026-13-01",     # not a date
        "requested_at": "2026-09-30T10:00:00+25:00",  # bad offset
        "urgent": "yes",                   # not a boolean
        "customer_name": 42,               # not text
        "wieght": 3,                       # unknown, close to weight_t
        # weight_t: required, missing
    }
    errs = errors(book, case)
    assert set(errs) == {"quotes", "origin", "prices", "price", "purchase_date", "requested_at", "urgent",
                         "customer_name", "wieght", "weight_t"}
    assert errs["weight_t"] == ["is required"]
    assert "did you mean 'weight_t'?" in errs["wieght"][0]
    assert all(isinstance(m, list) and len(m) == 1 and m[0] for m in errs.values())
    assert str(CaseError(errs)).count(":") >= len(errs)
