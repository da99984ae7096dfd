"""The sharp edges of durable-rules, each owned by engine/evaluation/backends/durable_host.py."""
import threading

from engine.evaluation.backends.durable_host import RuleHost
from engine.rulebook import RuleBook

RULES = {"big": {"all": [{"m": {"$gt": {"n": 10}}}]},
         "small": {"all": [{"m": {"$lte": {"n": 10}}}]},
         "named": {"all": [{"m": {"who": "x"}}]}}


def test_no_match_is_an_empty_answer_not_an_error():
    host = RuleHost("t")
    rs = host.add_ruleset(RULES)
    assert host.fire(rs, {"other": 1}) == []
    assert sorted(host.fire(rs, {"n": 11, "who": "x"})) == ["big", "named"]


def test_sessions_are_freed_past_the_1024_limit():
    host = RuleHost("t")
    rs = host.add_ruleset(RULES)
    for i in range(1500):  # durable-rules allows 1,024 live sessions per ruleset
        assert host.fire(rs, {"n": i % 20}) == (["big"] if i % 20 > 10 else ["small"])
    for _ in range(1100):  # facts that match no rule used to leak a session (and crash on delete)
        assert host.fire(rs, {"nothing": True}) == []
    assert host.live_sessions == 0


def test_a_new_version_gets_a_new_host_and_both_keep_working(tmp_path):
    src = (tmp_path / "v.yaml")
    text = """ruleset: v
version: "{v}"
inputs: {{n: {{type: integer, default: 0}}}}
outputs: {{out: {{type: string}}}}
stages:
  - name: s
    rules:
      - {{id: R, title: t, source: s § 1, when: n > {limit}, then: {{out: "{v}"}}}}
"""
    src.write_text(text.format(v="1", limit=5))
    old = RuleBook.load(tmp_path)
    src.write_text(text.format(v="2", limit=50))
    new = RuleBook.load(tmp_path)  # same ruleset name, same process: must not collide
    assert old.decide("v", {"n": 10}, as_of="2026-01-01").outputs == {"out": "1"}
    assert new.decide("v", {"n": 10}, as_of="2026-01-01").outputs == {}
    assert new.decide("v", {"n": 60}, as_of="2026-01-01").outputs == {"out": "2"}


def test_facts_not_events_every_matching_rule_fires():
    host = RuleHost("t")
    rs = host.add_ruleset(RULES)
    # an event would be consumed by the first rule; a fact is seen by all of them
    assert sorted(host.fire(rs, {"n": 1, "who": "x"})) == ["named", "small"]


def test_eight_threads_agree_with_serial_evaluation(books):
    book = books["durable"]
    cases = [({"weight_t": str(w), "market_prices_per_t": ["2000", "2400"], "proposed_price": str(p), "quotes": q,
               "region": r}, "2026-11-01")
             for w, p, q, r in [(1, 1800, 3, "新疆"), (2, 3000, 3, "浙江"), (3, 100, 1, "四川"), (0.5, 935, 3, "浙江")]]
    serial = [book.decide("scrap_pricing", c, as_of=a).to_json() for c, a in cases]
    results, errors = [], []

    def worker():
        try:
            for _ in range(60):
                for (c, a), want in zip(cases, serial):
                    got = book.decide("scrap_pricing", c, as_of=a).to_json()
                    results.append(got == want)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 8 * 60 * len(cases) and all(results)


def test_a_rule_with_alternatives_is_reported_once():
    host = RuleHost("t")
    rs = host.add_ruleset({"either": {"all": [{"m": {"$or": [{"a": 1}, {"b": 1}]}}]}})
    assert host.fire(rs, {"a": 1, "b": 1}) == ["either"]  # durable-rules runs the action twice
