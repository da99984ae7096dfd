"""engine/evaluation/backends/memo.py: the durable backend's match memo."""
from datetime import date

from engine.evaluation.backends.memo import MatchMemo, abstraction, place
from engine.rulebook import RuleBook
from tests.conftest import RULES


def test_a_value_is_keyed_by_where_it_falls_among_the_literals():
    literals, literal_set = abstraction({100, 300}, compared_otherwise=False)
    # every value strictly between two literals decides every test alike: one key
    assert place(150, literals, literal_set) == place(299, literals, literal_set) == (1, False)
    assert place(300, literals, literal_set) == (1, True) != place(301, literals, literal_set)
    assert place(date(2026, 1, 1), literals, literal_set) == date(2026, 1, 1)  # another type: the value itself


def test_a_fact_compared_with_another_fact_is_keyed_by_its_value():
    assert abstraction({100}, compared_otherwise=True) == (None, None)
    assert abstraction(set(), compared_otherwise=False) == (None, None)


def test_a_full_memo_keeps_what_it_has_and_a_zero_memo_keeps_nothing():
    memo = MatchMemo(2)
    for k in "abc":
        memo.put(k, [k])
    assert (memo.get("a"), memo.get("b"), memo.get("c")) == (["a"], ["b"], None)
    off = MatchMemo(0)
    off.put("a", ["a"])
    assert off.get("a") is None


def test_the_memo_answers_repeated_facts_without_the_native_engine():
    book = RuleBook.load(RULES, backend="durable")
    loaded = book.get("depreciation")
    case = {"cost": "1000.00", "stock_in_date": "2026-01-31"}
    first = loaded.decide(case, as_of="2026-11-25").to_json()
    matcher = loaded.matcher
    hits = matcher.memo_hits
    again = loaded.decide(dict(case, cost="1200.00"), as_of="2026-11-25").to_json()  # the same stage facts
    assert matcher.memo_hits > hits
    assert again["fired"][0]["id"] == first["fired"][0]["id"]
