"""Issue 10 items 5 and 4 (expressions): the values a rule computes are bounded while a case is
decided (a decision over a bound fails naming the rule and the fact, in the engine, the API, the
CLI and `aftersales check`), and whether an expression loads never depends on the caller's stack."""
import sys
import threading
import time
import tracemalloc

import pytest

from api import create_app
from api.settings import Settings
from engine.language import expressions
from aftersales.cli import main
from engine.errors import EvaluationLimit
from engine.language.expressions import (MAX_BRACKETS, MAX_DEPTH, MAX_NUMBER_DIGITS, MAX_OPERATORS, MAX_TEXT_LENGTH,
                                _on_fresh_stack)
from engine.rulebook import RuleBook

from tests.engine.demo import AS_OF, BACKENDS, load, problems_of, write


def doublings(n):
    return "\n".join(f"  d{i}: d{i - 1} + d{i - 1}" for i in range(1, n + 1))


def squarings(n):
    return "\n".join(f"  q{i}: q{i - 1} * q{i - 1}" for i in range(1, n + 1))


# The two rule sets: 20 doublings of a text (100 MB per decision) and 22 squarings of a
# number (2.3 s of CPU), each behind a rule that reads the last fact.
EXPLOSIVE = f"""\
inputs:
  s: {{type: string, default: ''}}
  n: {{type: integer, default: 0}}
derived:
  d0: s
{doublings(20)}
  q0: n
{squarings(22)}
outputs:
  long: {{type: string, required: false}}
  big: {{type: integer, required: false}}
stages:
  - name: s
    rules:
      - id: TEXT
        title: t
        source: test § 1
        when: given(d20)
        then: {{long: = d20}}
      - id: NUMBER
        title: n
        source: test § 2
        when: q22 > 0
        then: {{big: = q22}}
"""


def decide_measured(book, case):
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(EvaluationLimit) as e:
            book.decide("demo", case, as_of=AS_OF)
        return e.value, time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@BACKENDS
def test_a_text_doubled_in_a_chain_of_derived_facts_stops_at_the_bound(tmp_path, backend):
    book = load(tmp_path, EXPLOSIVE, backend)
    limit, seconds, peak = decide_measured(book, {"s": "ab"})
    # 2 × 2**16 = 131,072 characters: the first doubling past 100,000, named with its fact
    assert limit.fact == "d16" and limit.where == "derived fact d16"
    assert "`d15 + d15` makes a text of 131,072 characters" in limit.message
    assert f"{MAX_TEXT_LENGTH:,}" in limit.message
    assert seconds < 0.5 and peak < 5_000_000  # before: 2 MB per character of s, 100 MB here


@BACKENDS
def test_repeated_squaring_stops_at_the_bound(tmp_path, backend):
    book = load(tmp_path, EXPLOSIVE, backend)
    limit, seconds, _ = decide_measured(book, {"n": 10})
    # 10**16 is fine, 10**32 is not: the 5th squaring of 10
    assert limit.fact == "q5" and "`q4 * q4` makes a number of 33 digits" in limit.message
    assert f"10^{MAX_NUMBER_DIGITS}" in limit.message
    assert seconds < 0.5  # before: 2.3 s of CPU


@BACKENDS
def test_small_values_are_decided_as_before(tmp_path, backend):
    book = load(tmp_path, EXPLOSIVE, backend)
    d = book.decide("demo", {"n": 1, "s": ""}, as_of=AS_OF)
    assert d.outputs == {"long": "", "big": 1}


@BACKENDS
def test_an_output_over_the_bound_names_the_rule_and_the_output(tmp_path, backend):
    book = load(tmp_path, """\
        inputs:
          price: {type: money}
          n: {type: integer}
        outputs:
          total: {type: money}
        stages:
          - name: s
            rules:
              - id: R-7
                title: t
                source: test § 1
                when: n > 0
                then: {total: = price * n * n}
        """, backend)
    assert book.decide("demo", {"price": "100.00", "n": 3}, as_of=AS_OF).outputs == {"total": "900.00"}
    with pytest.raises(EvaluationLimit) as e:
        book.decide("demo", {"price": "999999999999999.00", "n": 999999999999999}, as_of=AS_OF)
    assert (e.value.rule_id, e.value.fact, e.value.where) == ("R-7", "total", "rule R-7, output total")
    assert "`price * n` makes a number of 30 digits" in str(e.value)  # the first step past the bound


@BACKENDS
def test_a_condition_over_the_bound_names_its_rule(tmp_path, backend):
    book = load(tmp_path, """\
        inputs:
          a: {type: string}
        outputs:
          hit: {type: boolean, default: false}
        stages:
          - name: s
            rules:
              - id: FIRST
                title: t
                source: test § 1
                when: a == 'x'
                then: {hit: = true}
              - id: JOIN
                title: t
                source: test § 2
                when: a + a + a + a + a + a + a + a + a + a + a != 'y'
                then: {hit: = true}
        """, backend)
    with pytest.raises(EvaluationLimit) as e:
        book.decide("demo", {"a": "z" * 10_000}, as_of=AS_OF)
    assert (e.value.rule_id, e.value.where) == ("JOIN", "rule JOIN, its condition")


def test_sum_is_bounded_like_the_operators(tmp_path):
    ten = ", ".join(["b"] * 11)
    book = load(tmp_path, f"""\
        inputs:
          n: {{type: integer}}
        derived:
          b: n * 10000000000
        outputs:
          total: {{type: decimal}}
        stages:
          - name: s
            rules:
              - id: S
                title: t
                source: test § 1
                when: true
                then: {{total: "= sum([{ten}])"}}
        """)
    assert book.decide("demo", {"n": 2}, as_of=AS_OF).outputs == {"total": "220000000000"}
    with pytest.raises(EvaluationLimit) as e:  # each b is 10**25 - 10**10: eleven of them are not
        book.decide("demo", {"n": 999_999_999_999_999}, as_of=AS_OF)
    assert e.value.where == "rule S, output total" and "`sum([b, b," in e.value.message


# -- the callers: API, CLI, aftersales check ---------------------------------------------------

def test_the_api_answers_422_naming_the_rule_and_a_batch_gets_one_error_item(tmp_path):
    write(tmp_path / "rules", EXPLOSIVE)
    settings = Settings(rules_dir=tmp_path / "rules", var_dir=tmp_path / "var", tokens={}, reload_interval=0, development=True)
    client = create_app(settings, watch=False).test_client()
    r = client.post("/v1/decisions/demo", json={"case": {"n": 10}, "as_of": AS_OF})
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["type"].endswith("/evaluation-limit")
    assert body["detail"].startswith("derived fact q5: `q4 * q4` makes a number of 33 digits")
    r = client.post("/v1/decisions/demo/batch", json={"cases": [{"n": 1}, {"s": "abc"}], "as_of": AS_OF})
    assert r.status_code == 200
    first, second = r.get_json()["results"]
    assert first["decision"] == {"big": 1, "long": ""}
    assert second["error"]["status"] == 422 and "derived fact d16" in second["error"]["detail"]


def test_the_cli_exits_2_naming_the_fact(tmp_path, capsys):
    write(tmp_path / "rules", EXPLOSIVE)
    (tmp_path / "case.json").write_text('{"s": "x"}')
    rc = main(["eval", "demo", str(tmp_path / "case.json"), "--rules", str(tmp_path / "rules"),
               "--engine", "python", "--as-of", AS_OF])
    assert rc == 2
    assert "d17: derived fact d17: `d16 + d16` makes a text of 131,072 characters" in capsys.readouterr().err


def test_check_reports_each_rule_over_a_bound_with_an_example(tmp_path, capsys):
    seven = "n * n * n * n * n * n * n"
    write(tmp_path, EXPLOSIVE.replace(f"  q0: n\n{squarings(22)}\n", "").replace("q22 > 0", "n > 0")
          .replace("then: {big: = q22}", f"then: {{big: = {seven}}}"))
    rc = main(["check", str(tmp_path), "--as-of", "2026-11-25"])
    out = capsys.readouterr().out
    assert rc != 0
    # the text chain (a derived fact: its line) and the rule whose output multiplies n seven times
    assert "demo.yaml:24: error: derived fact d17: `d16 + d16` makes a text of 131,072 characters" in out
    assert f"error: [NUMBER] rule NUMBER, output big: `{seven}` makes a number of 29 digits" in out
    assert 'example (as_of 2026-11-25T00:00:00+08:00): {"n": 10000}' in out


# -- load time: what can be known without a case ----------------------------------------------

def test_a_constant_over_the_bound_is_refused_at_load_with_file_and_line(tmp_path):
    big = "9" * 14
    [problem] = problems_of(tmp_path, f"{big} * {big}")
    assert problem.startswith(f"{tmp_path / 'demo.yaml'}:14:")
    assert f"`{big} * {big}` makes a number of 28 digits" in problem
    [problem] = problems_of(tmp_path, "1" * (MAX_NUMBER_DIGITS + 1))
    assert f"a number of more than {MAX_NUMBER_DIGITS} digits is not allowed" in problem
    [problem] = problems_of(tmp_path, "1" * (MAX_NUMBER_DIGITS + 1) + ".5")
    assert f"is not below 10^{MAX_NUMBER_DIGITS}" in problem


def test_no_operator_builds_a_list(tmp_path):
    """Lists cannot grow while a case is decided, so they need no bound there."""
    assert "cannot compute list of integer + list of integer" in problems_of(tmp_path, "[1, 2] + [3]")[0]
    assert "cannot compute list of integer * integer" in problems_of(tmp_path, "[1, 2] * 3")[0]


# -- item 4: the nesting bound, the same everywhere -------------------------------------------

def nested(levels):
    """An expression `levels` deep: `- - … - 1` (levels - 1 signs)."""
    return "-" * (levels - 1) + "1"


def verdict(folder):
    return [str(p) for p in RuleBook.load(folder, backend="python").all_problems()]


def test_an_expression_deeper_than_the_bound_is_refused_one_at_the_bound_loads(tmp_path):
    assert problems_of(tmp_path / "at", nested(MAX_DEPTH)) == []
    [problem] = problems_of(tmp_path / "over", nested(MAX_DEPTH + 1))
    assert problem.startswith(f"{tmp_path / 'over' / 'demo.yaml'}:14:")
    assert f"expression nested more than {MAX_DEPTH} levels deep" in problem


def test_too_many_operators_or_brackets_are_refused_before_parsing(tmp_path):
    def flat(marks):  # a chained comparison is one level however long: `1 if 1<1<…<1 else 2`
        return "1 if " + "<".join(["1"] * (marks - 1)) + " else 2"
    assert problems_of(tmp_path / "at", flat(MAX_OPERATORS)) == []
    assert f"expression with {MAX_OPERATORS + 1} operators, brackets and keywords (at most {MAX_OPERATORS})" \
        in problems_of(tmp_path / "ops", flat(MAX_OPERATORS + 1))[0]
    deep = "(" * (MAX_BRACKETS + 1) + "1" + ")" * (MAX_BRACKETS + 1)
    assert f"brackets nested more than {MAX_BRACKETS} deep" in problems_of(tmp_path / "brackets", deep)[0]
    assert problems_of(tmp_path / "ok", "(" * MAX_BRACKETS + "1" + ")" * MAX_BRACKETS) == []
    hidden = "1 if ')))))))))))))))))))))' == 'x' else " + deep  # closers in a text hide no brackets
    assert f"brackets nested more than {MAX_BRACKETS} deep" in problems_of(tmp_path / "hidden", hidden)[0]


@pytest.mark.parametrize("levels", (MAX_DEPTH, MAX_DEPTH + 1))
def test_the_verdict_does_not_depend_on_the_stack(tmp_path, levels, monkeypatch):
    problems_of(tmp_path, nested(levels))
    expected = verdict(tmp_path)
    fresh = []  # the calls that ran out of stack and compiled again on a fresh one
    monkeypatch.setattr(expressions, "_on_fresh_stack",
                        lambda *a: fresh.append(1) or _on_fresh_stack(*a))

    def deep(n, fn):  # use up all but a little of the recursion depth, then load
        return deep(n - 1, fn) if n > 0 else fn()
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    assert deep(sys.getrecursionlimit() - depth - 100, lambda: verdict(tmp_path)) == expected
    # at the bound, the compiler ran out of stack inline and compiled again on a fresh one (before:
    # "too deeply nested" here only); over it, the depth was refused before any recursion
    assert bool(fresh) == (levels == MAX_DEPTH)

    got = []
    old = threading.stack_size(128 * 1024)  # a small thread stack
    try:
        worker = threading.Thread(target=lambda: got.append(verdict(tmp_path)))
        worker.start()
        worker.join()
    finally:
        threading.stack_size(old)
    assert got == [expected]
