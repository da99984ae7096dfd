"""How fired rules decide the outputs (engine/evaluation/resolution.py), evaluated end to end on both
backends: each `combine` of an output, and the hit policies of decision tables."""
import pytest

from engine.errors import DecisionConflict

from tests.engine.demo import AS_OF, BACKENDS, fired_ids, load


# --- combining outputs -------------------------------------------------------------------

def _combine_set(combine, rules):
    """One output `out` with the given `combine`; rules are (id, priority, when, value)."""
    body = ("inputs:\n  n: {type: integer, default: 0}\n"
            f"outputs:\n  out: {{type: string, combine: {combine}}}\n"
            "stages:\n  - name: s\n    rules:\n")
    for rid, prio, when, value in rules:
        body += (f"      - {{id: {rid}, title: t, source: test § 1, priority: {prio}, when: {when}, "
                 f"then: {{out: {value}}}}}\n")
    return body


@BACKENDS
def test_combine_priority_higher_wins_and_the_loser_is_marked_overridden(tmp_path, backend):
    book = load(tmp_path, _combine_set("priority", [
        ("LOW", 1, "true", "low"), ("HIGH", 10, "n > 0", "high"), ("MID", 5, "true", "mid")]), backend)
    d = book.decide("demo", {"n": 1}, as_of=AS_OF)
    assert d.outputs == {"out": "high"}
    entries = {f["id"]: f for f in d.fired}
    assert set(entries) == {"LOW", "HIGH", "MID"}
    assert entries["LOW"]["overridden"] == ["out"] and entries["MID"]["overridden"] == ["out"]
    assert "overridden" not in entries["HIGH"]
    assert entries["LOW"]["sets"] == {"out": "low"}
    d = book.decide("demo", {"n": 0}, as_of=AS_OF)
    assert d.outputs == {"out": "mid"}


@BACKENDS
def test_combine_priority_tie_goes_to_the_rule_written_first(tmp_path, backend):
    book = load(tmp_path, _combine_set("priority", [
        ("A", 0, "true", "first"), ("B", 0, "true", "second"), ("C", 0, "true", "first")]), backend)
    d = book.decide("demo", {}, as_of=AS_OF)
    assert d.outputs == {"out": "first"}
    entries = {f["id"]: f for f in d.fired}
    assert entries["B"]["overridden"] == ["out"]
    assert "overridden" not in entries["A"]
    assert "overridden" not in entries["C"]  # it agreed with the winner


@BACKENDS
def test_combine_first_takes_the_first_fired_rule_in_file_order(tmp_path, backend):
    book = load(tmp_path, _combine_set("first", [
        ("A", 0, "n > 5", "a"), ("B", 100, "true", "b"), ("C", 0, "true", "c")]), backend)
    assert book.decide("demo", {"n": 6}, as_of=AS_OF).outputs == {"out": "a"}
    assert book.decide("demo", {"n": 1}, as_of=AS_OF).outputs == {"out": "b"}


@BACKENDS
def test_combine_unique_two_rules_setting_it_is_a_conflict(tmp_path, backend):
    book = load(tmp_path, _combine_set("unique", [
        ("A", 0, "n > 5", "a"), ("B", 0, "n > 1", "b")]), backend)
    assert book.decide("demo", {"n": 3}, as_of=AS_OF).outputs == {"out": "b"}
    with pytest.raises(DecisionConflict) as e:
        book.decide("demo", {"n": 6}, as_of=AS_OF)
    assert e.value.output == "out" and e.value.rule_ids == ["A", "B"]


@BACKENDS
def test_combine_collect_gives_a_list_in_file_order(tmp_path, backend):
    book = load(tmp_path, _combine_set("collect", [
        ("A", 0, "n > 5", "a"), ("B", 9, "n > 1", "b"), ("C", 0, "true", "c")]), backend)
    assert book.decide("demo", {"n": 6}, as_of=AS_OF).outputs == {"out": ["a", "b", "c"]}
    assert book.decide("demo", {"n": 0}, as_of=AS_OF).outputs == {"out": ["c"]}


# --- decision tables ---------------------------------------------------------------------

DECISION_TABLE = """\
    inputs:
      original_value: {type: money, default: 0}
      category: {type: enum, values: [steel, oil, parts], default: parts}
      quotes: {type: integer, default: 0}
    outputs:
      approver: {type: enum, values: [leader, department, project]}
      route: {type: string}
    stages:
      - name: s
        rules:
          - table: AP
            title: 按原值确定审批层级
            source: test § 1.5
            hit: first
            columns: [original_value, category]
            outputs: [approver]
            rows:
              - ["> 300", "in ['steel', 'oil']", leader]
              - {id: AP-DEPT, row: ["> 300", "-", department]}
              - ["-", "-", project]
          - table: RT
            title: exactly one route
            source: test § 2
            hit: unique
            columns: [quotes, category]
            outputs: [route]
            rows:
              - ["<= 2", "-", single]
              - [3, steel, auction-steel]
              - [3, "not in ['steel']", auction]
              - ["> 3", oil, "= 'tender-' + category"]
    """


@BACKENDS
@pytest.mark.parametrize("case, approver, route, fired", [
    ({"original_value": "300.01", "category": "oil", "quotes": 3}, "leader", "auction", ["AP.1", "RT.3"]),
    ({"original_value": "300.01", "category": "parts", "quotes": 1}, "department", "single", ["AP-DEPT", "RT.1"]),
    ({"original_value": "300.00", "category": "steel", "quotes": 3}, "project", "auction-steel", ["AP.3", "RT.2"]),
    ({"original_value": "10", "category": "oil", "quotes": 7}, "project", "tender-oil", ["AP.3", "RT.4"]),
])
def test_decision_table_cells_and_hit_first(tmp_path, backend, case, approver, route, fired):
    book = load(tmp_path, DECISION_TABLE, backend)
    d = book.decide("demo", case, as_of=AS_OF)
    assert d.outputs == {"approver": approver, "route": route}
    assert fired_ids(d) == fired  # hit: first reports only the first matching row


@BACKENDS
def test_decision_table_hit_first_lower_matching_rows_are_explained(tmp_path, backend):
    book = load(tmp_path, DECISION_TABLE, backend)
    d = book.decide("demo", {"original_value": "500", "category": "steel", "quotes": 0}, as_of=AS_OF,
                    explain="full")
    assert fired_ids(d) == ["AP.1", "RT.1"]
    not_fired = {e["id"]: e for e in d.not_fired}
    assert not_fired["AP-DEPT"]["because"] == "first hit"
    assert "AP.1" in not_fired["AP-DEPT"]["failed"]
    assert not_fired["AP.3"]["because"] == "first hit"
    assert not_fired["RT.2"]["failed"] == "quotes == 3"


@BACKENDS
def test_decision_table_hit_unique_overlapping_rows_conflict(tmp_path, backend):
    book = load(tmp_path, DECISION_TABLE.replace("[3, steel, auction-steel]", "[3, \"-\", auction-steel]"),
                backend)
    assert book.decide("demo", {"quotes": 1}, as_of=AS_OF).outputs["route"] == "single"
    with pytest.raises(DecisionConflict) as e:
        book.decide("demo", {"quotes": 3, "category": "oil"}, as_of=AS_OF)
    assert e.value.rule_ids == ["RT.2", "RT.3"]
