"""What a decision says about its rules (engine/explanation/): the values each fired rule read, and
with explain=full the first failed condition of each rule that did not fire, unknown (null) included."""
from tests.engine.demo import AS_OF, BACKENDS, fired_ids, load


# --- explanations and null ---------------------------------------------------------------

EXPLAIN = """\
    inputs:
      n: {type: integer}
      m: {type: decimal}
      s: {type: string}
    outputs:
      out: {type: string, combine: collect}
    stages:
      - name: s
        rules:
          - id: BOTH
            title: both large
            source: test § 1
            when: [n > 1, m > 5]
            then: {out: both}
          - id: NOT-M
            title: not m large
            source: test § 2
            when: {not: m > 5}
            then: {out: not-m}
          - id: NOT-S
            title: s is not a
            source: test § 3
            when: s != 'a'
            then: {out: not-a}
          - id: NOT-GIVEN
            title: m missing
            source: test § 4
            when: not given(m)
            then: {out: no-m}
          - id: FALLBACK
            title: m or zero
            source: test § 5
            when: coalesce(m, 0) < 1
            then: {out: small-m}
          - id: OR-TRUE
            title: unknown or true
            source: test § 6
            when: m > 5 or n > 1
            then: {out: or}
    """


@BACKENDS
def test_explain_full_gives_the_first_failed_condition_and_its_values(tmp_path, backend):
    book = load(tmp_path, EXPLAIN, backend)
    d = book.decide("demo", {"n": 3, "m": "2.5", "s": "a"}, as_of=AS_OF, explain="full")
    assert fired_ids(d) == ["NOT-M", "OR-TRUE"]
    why = {e["id"]: e for e in d.not_fired}
    assert set(why) == {"BOTH", "NOT-S", "NOT-GIVEN", "FALLBACK"}
    assert why["BOTH"]["failed"] == "m > 5"
    assert why["BOTH"]["because"] == "false"
    assert why["BOTH"]["values"] == {"m": "2.5"}
    assert why["NOT-S"]["failed"] == "s != 'a'" and why["NOT-S"]["values"] == {"s": "a"}
    assert why["FALLBACK"]["failed"] == "coalesce(m, 0) < 1"
    # the fired entries carry the values their conditions read
    assert {f["id"]: f["values"] for f in d.fired}["OR-TRUE"] == {"m": "2.5", "n": 3}
    # explain="fired" (the default) has no not_fired
    assert "not_fired" not in book.decide("demo", {"n": 3}, as_of=AS_OF).to_json()


@BACKENDS
def test_a_missing_input_makes_comparisons_unknown(tmp_path, backend):
    book = load(tmp_path, EXPLAIN, backend)
    d = book.decide("demo", {"n": 3}, as_of=AS_OF, explain="full")
    # m > 5 is unknown, so neither it nor `not m > 5` holds; s != 'a' with no s is unknown too;
    # `unknown or true` is true
    assert fired_ids(d) == ["NOT-GIVEN", "FALLBACK", "OR-TRUE"]
    assert d.outputs == {"out": ["no-m", "small-m", "or"]}
    why = {e["id"]: e for e in d.not_fired}
    assert why["BOTH"]["failed"] == "m > 5"
    assert why["BOTH"]["because"] == "missing: m"
    assert why["BOTH"]["values"] == {"m": None}
    assert why["NOT-M"]["because"] == "missing: m"
    assert why["NOT-S"]["because"] == "missing: s"
