"""A decision table acts as one unit with one priority, whichever of its rows matched
(issue 11: rows of a `hit: first` table used to get priority `base - (row - 1)`, so the
first row beat a plain rule of the same priority and the second row lost to it)."""
import pytest

from tests.engine.demo import AS_OF, BACKENDS, fired_ids, load

TABLE_AND_RULE = """\
    inputs:
      amount: {type: integer}
    outputs:
      band: {type: string}
    stages:
      - name: s
        rules:
          - table: T
            title: band by amount
            source: test § 1
            priority: 5
            hit: first
            columns: [amount]
            outputs: [band]
            rows:
              - [">= 100", high]
              - [">= 10", middle]
          - id: PLAIN
            title: a plain rule of the same priority, written after the table
            source: test § 2
            priority: 5
            when: amount >= 0
            then: {band: plain}
    """


@BACKENDS
@pytest.mark.parametrize("amount, row", [(150, "T.1"), (50, "T.2")])
def test_a_table_keeps_one_priority_whichever_row_matched(tmp_path, backend, amount, row):
    book = load(tmp_path, TABLE_AND_RULE, backend)
    d = book.decide("demo", {"amount": amount}, as_of=AS_OF, explain="full")
    # same priority, the table written first: the table decides, on its first row as on its second
    assert d.outputs["band"] == {"T.1": "high", "T.2": "middle"}[row]
    assert fired_ids(d) == [row, "PLAIN"]
    plain = next(f for f in d.fired if f["id"] == "PLAIN")
    assert plain.get("overridden") == ["band"]


@BACKENDS
def test_a_plain_rule_written_before_the_table_wins_over_every_row(tmp_path, backend):
    body = TABLE_AND_RULE.replace("rules:\n", "rules:\n          - id: EARLY\n"
                                  "            title: same priority, written first\n"
                                  "            source: test § 3\n            priority: 5\n"
                                  "            when: amount >= 0\n            then: {band: early}\n", 1)
    book = load(tmp_path, body, backend)
    for amount in (150, 50):
        assert book.decide("demo", {"amount": amount}, as_of=AS_OF).outputs["band"] == "early"
