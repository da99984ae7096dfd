"""Loading is strict: every problem of a rule file is reported at once, located by file,
line, column and rule id, with a message a policy owner can act on. Expressions are
checked against a whitelist at load and never executed when hostile."""
import json
import string
import time
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendar import WorkCalendar
from aftersales.cli import main
from engine.loading.compiler import compile_ruleset
from engine.errors import ExpressionError, RulesError
from engine.language.expressions import Symbol, compile_expression
from engine.language.functions import builtin_functions, collecting_warnings
from engine.rulebook import RuleBook
from engine.types import BOOLEAN, CHINA, DATE, DATETIME, DECIMAL, INTEGER, MONEY, STRING, Type


def problems(folder, text, name="demo"):
    """Write folder/<name>.yaml, load the folder and return the problems of that file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    book = RuleBook.load(folder, backend="python")
    assert name not in book.rulesets
    error = book.errors[name]
    assert isinstance(error, RulesError)
    for p in error.problems:
        assert p.file == str(path)
    return error.problems


def at(text, needle, nth=1):
    """1-based (line, column) of the nth occurrence of needle in text."""
    i = -1
    for _ in range(nth):
        i = text.index(needle, i + 1)
    line = text.count("\n", 0, i) + 1
    return line, i - (text.rfind("\n", 0, i) + 1) + 1


BROKEN = """\
ruleset: demo
version: "1"
bogus: 1
inputs:
  weight_t: {type: decimal}
  purchase_date: {type: date}
  fault: {type: enum, values: [misuse, defect]}
outputs:
  out: {type: string}
  other: {type: string}
stages:
  - name: first
    rules:
      - id: R1
        title: typo in a fact
        source: seed.txt § 1
        when: weigth_t > 2
        then: {out: a}
      - id: R1
        title: a date compared with a number
        source: seed.txt § 2
        when: purchase_date > 5
        then: {out: b}
      - id: R2
        title: an unknown function
        source: seed.txt § 3
        when: frobnicate(weight_t)
        then: {out: b}
      - id: R3
        title: a bad date, a bad enum literal, an unknown output
        source: seed.txt § 4
        effective_from: "2026-13-01"
        when: fault == 'abuse'
        then: {outt: b}
      - id: R4
        title: no source
        when: true
        then: {out: c}
  - name: second
    rules:
      - id: R5
        title: sets an output of the first stage
        source: seed.txt § 5
        when: true
        then: {out: d, other: x}
"""


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    return problems(tmp_path_factory.mktemp("broken"), BROKEN)


def find(problems_, fragment):
    hits = [p for p in problems_ if fragment in p.message]
    assert len(hits) == 1, f"expected one problem with {fragment!r}, got: {[str(p) for p in problems_]}"
    return hits[0]


def test_every_problem_is_reported_at_once(broken):
    assert len(broken) == 10, "\n".join(str(p) for p in broken)
    assert all(p.level == "error" for p in broken)


def test_unknown_fact_with_did_you_mean(broken):
    p = find(broken, "unknown fact 'weigth_t'")
    assert "did you mean 'weight_t'" in p.message
    assert (p.line, p.column) == at(BROKEN, "weigth_t > 2")
    assert p.rule_id == "R1"


def test_type_mismatch_date_compared_with_a_number(broken):
    p = find(broken, "cannot compare date with integer")
    assert (p.line, p.column, p.rule_id) == (*at(BROKEN, "purchase_date > 5"), "R1")
    assert "purchase_date > 5" in p.message  # the message quotes the expression


def test_duplicate_rule_id(broken):
    p = find(broken, "duplicate rule id R1")
    first_line, _ = at(BROKEN, "id: R1")
    assert f"also at line {first_line}" in p.message
    assert (p.line, p.column, p.rule_id) == (*at(BROKEN, "id: R1", nth=2), "R1")


def test_unknown_function(broken):
    p = find(broken, "unknown function frobnicate()")
    assert (p.line, p.column, p.rule_id) == (*at(BROKEN, "frobnicate(weight_t)"), "R2")


def test_bad_date_in_effective_from(broken):
    p = find(broken, "effective_from")
    assert "2026-13-01" in p.message and "not a date" in p.message
    assert (p.line, p.column, p.rule_id) == (*at(BROKEN, "effective_from"), "R3")


def test_enum_literal_outside_the_enum(broken):
    p = find(broken, "'abuse' is not a value of fault")
    assert "misuse, defect" in p.message
    assert (p.line, p.column, p.rule_id) == (*at(BROKEN, "'abuse'"), "R3")


def test_unknown_output_in_then(broken):
    p = find(broken, "unknown output 'outt'")
    assert "did you mean 'out'" in p.message
    assert (p.line, p.column, p.rule_id) == (*at(BROKEN, "outt: b"), "R3")


def test_missing_source_on_a_rule(broken):
    p = find(broken, "has no 'source'")
    assert "R4" in p.message and p.rule_id == "R4"
    assert (p.line, p.column) == at(BROKEN, "id: R4")


def test_output_set_by_two_stages(broken):
    p = find(broken, "output 'out' is already decided in stage 'first'")
    assert (p.line, p.column) == at(BROKEN, "name: second")


def test_unknown_top_level_key(broken):
    p = find(broken, "unknown key 'bogus'")
    assert (p.line, p.column) == (3, 1)


def test_problems_print_as_file_line_column_rule_message(broken):
    p = find(broken, "unknown function")
    line, col = at(BROKEN, "frobnicate(weight_t)")
    assert str(p) == f"{p.file}:{line}:{col}: error: [R2] {p.message}"


def test_a_broken_file_does_not_stop_the_others_from_loading(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    problems(tmp_path, BROKEN)
    book = RuleBook.load(tmp_path, backend="python")
    assert set(book.rulesets) == {"good"} and set(book.errors) == {"demo"}
    assert book.decide("good", {"weight_t": 2}, as_of="2026-01-01").outputs == {"out": "heavy"}


GOOD = """\
ruleset: good
version: "1"
inputs: {weight_t: {type: decimal}}
outputs: {out: {type: string}}
stages:
  - name: s
    rules:
      - {id: G, title: t, source: seed.txt § 1, when: weight_t > 1, then: {out: heavy}}
"""


def test_compile_ruleset_raises_rules_error_with_every_problem(tmp_path):
    path = tmp_path / "demo.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(RulesError) as e:
        compile_ruleset(path, WorkCalendar.package_only())
    assert len(e.value.problems) == 10
    assert str(e.value).count(str(path)) == 10  # one located line per problem


def test_yaml_syntax_error_with_its_line(tmp_path):
    text = 'ruleset: demo\nversion: "1"\ninputs:\n  a: {type: integer\n  b: 1\n'
    [p] = problems(tmp_path, text)
    assert p.message.startswith("YAML syntax:")
    assert p.line == 5


def test_duplicate_yaml_key_is_a_problem(tmp_path):
    text = 'ruleset: demo\nversion: "1"\ninputs:\n  a: {type: integer}\n  a: {type: string}\n'
    [p] = problems(tmp_path, text)
    assert "duplicate key 'a'" in p.message and p.line == 5


def test_ruleset_name_must_match_the_file_name(tmp_path):
    text = ('ruleset: other\nversion: "1"\noutputs: {out: {type: string}}\nstages:\n  - name: s\n    rules:\n'
            '      - {id: R, title: t, source: s § 1, when: true, then: {out: x}}\n')
    [p] = problems(tmp_path, text)
    assert "'ruleset: other' must match the file name 'demo'" in p.message
    assert (p.line, p.column) == (1, 1)


@pytest.mark.parametrize("bad", ["2026-13-01", "2026-02-30"])
def test_unquoted_impossible_date_in_effective_from_is_a_located_problem(tmp_path, bad):
    # YAML itself cannot build these dates; they must be reported, not crash the load of every rule set
    text = BROKEN.replace('effective_from: "2026-13-01"', f"effective_from: {bad}")
    found = problems(tmp_path, text)
    assert len(found) == 10
    p = find(found, "effective_from")
    assert bad in p.message and "not a date" in p.message
    assert (p.line, p.column, p.rule_id) == (*at(text, "effective_from"), "R3")


# --- the CLI --------------------------------------------------------------------------

CLI_RULES = """\
ruleset: demo
version: "1"
inputs:
  n: {type: integer, min: 0}
  kind: {type: enum, values: [repair, complaint]}
outputs:
  out: {type: string}
stages:
  - name: s
    rules:
      - {id: R, title: t, source: seed.txt § 1, when: n > 1, then: {out: big}}
"""


def test_cli_exit_code_3_for_a_broken_rules_folder(tmp_path, capsys):
    rules = tmp_path / "rules"
    problems(rules, BROKEN)
    case = tmp_path / "case.json"
    case.write_text("{}", encoding="utf-8")
    code = main(["eval", "demo", str(case), "--rules", str(rules), "--engine", "python", "--as-of", "2026-01-01"])
    err = capsys.readouterr().err
    assert code == 3
    line, col = at(BROKEN, "frobnicate(weight_t)")
    assert f"demo.yaml:{line}:{col}: error: [R2] unknown function frobnicate()" in err
    assert len(err.strip().splitlines()) == 10
    assert main(["check", str(rules)]) == 3
    assert "unknown fact 'weigth_t'" in capsys.readouterr().out


def test_cli_exit_code_2_names_each_bad_field(tmp_path, capsys):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "demo.yaml").write_text(CLI_RULES, encoding="utf-8")
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"n": -1, "kind": "refund", "colour": "red"}), encoding="utf-8")
    code = main(["eval", "demo", str(case), "--rules", str(rules), "--engine", "python", "--as-of", "2026-01-01"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert "n: must be at least 0" in lines
    assert "kind: must be one of: repair, complaint" in lines
    assert any(x.startswith("colour: unknown field") for x in lines)
    assert len(lines) == 3
    # and a good case decides
    case.write_text(json.dumps({"n": 5}), encoding="utf-8")
    assert main(["eval", "demo", str(case), "--rules", str(rules), "--engine", "python", "--as-of", "2026-01-01"]) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == {"out": "big"}


# --- the expression sandbox ---------------------------------------------------------------

HOSTILE = [
    ("__import__('os')", "unknown function __import__()"),
    ("().__class__", "attribute access"),
    ("().__class__.__bases__[0].__subclasses__()", "only the listed functions may be called"),
    ("x.real", "attribute access"),
    ("open('f')", "unknown function open()"),
    ("eval('1')", "unknown function eval()"),
    ("exec('1')", "unknown function exec()"),
    ("__builtins__", "names starting with '_' are not allowed"),
    ("2 ** 999999", "'**' is not allowed"),
    ("[x for x in y]", "comprehension is not allowed"),
    ("lambda: 1", "lambda is not allowed"),
    ("x > 1 and " * 500 + "x > 1", "longer than 2000 characters"),
    ("(" * 500 + "x" + ")" * 500 + " > 1", "nested"),
    ("a[0]", "indexing (a[b]) is not allowed"),
    ("f'{x}'", "f-strings is not allowed"),
    ("(y := 1)", "':=' is not allowed"),
    ("{'a': 1}", "a mapping is not allowed"),
    ("x is None", "'is' is not allowed"),
]
SANDBOX_INPUTS = "inputs: {x: {type: integer}, y: {type: list, of: integer}, a: {type: list, of: integer}}\n"


@pytest.mark.parametrize("place", ["when", "derived", "then"])
@pytest.mark.parametrize("expr, message", HOSTILE, ids=[h[0][:30] for h in HOSTILE])
def test_hostile_expressions_are_rejected_at_load(tmp_path, expr, message, place):
    quoted = json.dumps(expr)  # a JSON string is a YAML double-quoted scalar
    when = quoted if place == "when" else "true"
    then = f"= {expr}" if place == "then" else "x"
    derived = f"derived:\n  evil: {quoted}\n" if place == "derived" else ""
    text = ('ruleset: demo\nversion: "1"\n' + SANDBOX_INPUTS + derived +
            "outputs: {out: {type: string}}\nstages:\n  - name: s\n    rules:\n"
            f"      - id: EVIL\n        title: t\n        source: s § 1\n        when: {when}\n"
            f"        then:\n          out: {json.dumps(then)}\n"
            "      - {id: OK, title: t, source: s § 2, when: false, then: {out: fine}}\n")
    found = problems(tmp_path, text)
    assert len(found) == 1, "\n".join(str(p) for p in found)
    assert message in found[0].message
    assert found[0].line == at(text, quoted if place != "then" else json.dumps(then))[0]
    assert found[0].rule_id == (None if place == "derived" else "EVIL")


def test_a_bad_then_expression_is_reported_once(tmp_path):
    text = ('ruleset: demo\nversion: "1"\ninputs: {x: {type: integer}}\noutputs: {out: {type: integer}}\n'
            "stages:\n  - name: s\n    rules:\n"
            "      - {id: R, title: t, source: s § 1, when: true, then: {out: '= x +* 1'}}\n")
    found = problems(tmp_path, text)
    assert [p.rule_id for p in found] == ["R"], "\n".join(str(p) for p in found)
    assert "syntax error" in found[0].message  # not a second, misleading "output 'out' is set by no rule"


def _scope():
    return {"x": Symbol("x", INTEGER, "input"), "y": Symbol("y", Type("list", item=INTEGER), "input"),
            "a": Symbol("a", Type("list", item=INTEGER), "input")}


FUNCTIONS = builtin_functions(WorkCalendar.package_only())


@pytest.mark.parametrize("expr, message", HOSTILE, ids=[h[0][:30] for h in HOSTILE])
def test_hostile_expressions_raise_expression_error(expr, message):
    with pytest.raises(ExpressionError) as e:
        compile_expression(expr, _scope(), FUNCTIONS)
    assert message in e.value.message


def test_hostile_expressions_are_never_executed(tmp_path):
    target = tmp_path / "pwned"
    evil = [f"__import__('os').system('touch {target}')", f"open('{target}', 'w')",
            f"().__class__.__base__.__subclasses__()[0]('{target}')",
            f"given(__import__('pathlib').Path('{target}').touch())"]
    for expr in evil:
        with pytest.raises(ExpressionError):
            compile_expression(expr, _scope(), FUNCTIONS)
    text = ('ruleset: demo\nversion: "1"\n' + SANDBOX_INPUTS + "derived:\n" +
            "".join(f"  e{i}: {json.dumps(e)}\n" for i, e in enumerate(evil)) +
            "outputs: {out: {type: string}}\nstages:\n  - name: s\n    rules:\n"
            "      - {id: R, title: t, source: s § 1, when: true, then: {out: x}}\n")
    assert len(problems(tmp_path / "rules", text)) == len(evil)
    assert not target.exists()


@pytest.mark.parametrize("expr", ["min([1], ['a'])", "max(y, ['a'])", "coalesce(y, [date('2026-01-01')])",
                                  "[y, ['a']]"])
def test_lists_of_different_item_types_do_not_mix(expr):
    with pytest.raises(ExpressionError) as e:
        compile_expression(expr, _scope(), FUNCTIONS)
    assert e.value.message


@pytest.mark.parametrize("expr", ["min([null], [1])", "max(y, [null])"])
def test_min_and_max_of_several_lists_is_an_expression_error(expr):
    with pytest.raises(ExpressionError) as e:
        compiled = compile_expression(expr, _scope(), FUNCTIONS)
        compiled.fn({"y": [1]})  # if it compiled, it must at least not crash
    assert "max()" in e.value.message or "min()" in e.value.message


def test_lookup_with_a_list_key_is_rejected_at_load(tmp_path):
    text = ('ruleset: demo\nversion: "1"\ninputs: {y: {type: list, of: integer}}\n'
            "tables: {t: {rows: {a: 1}}}\noutputs: {out: {type: integer}}\nstages:\n  - name: s\n    rules:\n"
            "      - {id: R, title: t, source: s § 1, when: true, then: {out: '= coalesce(lookup(t, y), 0)'}}\n")
    [p] = problems(tmp_path, text)
    assert "lookup()'s key must be a single value" in p.message
    assert p.rule_id == "R" and p.line == at(text, "lookup(t, y)")[0]


# --- fuzzing the expression compiler ----------------------------------------------------

FUZZ_SCOPE = {
    "n": Symbol("n", INTEGER, "input"), "x": Symbol("x", DECIMAL, "input"), "m": Symbol("m", MONEY, "input"),
    "s": Symbol("s", STRING, "input"), "e": Symbol("e", Type("enum", values=("repair", "complaint")), "input"),
    "d": Symbol("d", DATE, "input"), "t": Symbol("t", DATETIME, "input"), "b": Symbol("b", BOOLEAN, "input"),
    "l": Symbol("l", Type("list", item=INTEGER), "input"), "p": Symbol("p", DECIMAL, "parameter", Decimal("0.85")),
    "tbl": Symbol("tbl", Type("table"), "table", {"a": Decimal("0.1")}, {None: DECIMAL}),
    "today": Symbol("today", DATE, "builtin"), "as_of": Symbol("as_of", DATETIME, "builtin"),
}
TOKENS = (
    list("+-*/%<>=!()[],.:'\" ") + ["//", "**", "==", "!=", "<=", ">=", " and ", " or ", " not ", " in ", " is ",
                                     " if ", " else ", "lambda", "not in", "0", "1", "2", "7", "10", "2.5", "1e3",
                                     "'a'", "'repair'", "'2026-01-31'", "true", "null", "None"]
    + list(FUZZ_SCOPE) + ["foo", "_x", "__class__", "__import__", "__builtins__", "__subclasses__", "__dict__"]
    + ["min", "max", "sum", "mean", "count", "abs", "clamp", "round", "round_money", "coalesce", "given",
       "lookup", "date", "add_days", "add_months", "add_years", "months_between", "days_between", "add_hours",
       "hours_between", "start_of_day", "end_of_day", "is_working_day", "working_days_after", "open", "eval"]
)
ATOMS = list(FUZZ_SCOPE) + ["0", "1", "2", "7", "10", "2.5", "0.125", "1e3", "'a'", "'repair'", "true", "false",
                           "null", "date('2026-01-31')", "[]", "foo", "__class__", "_x"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", "<=", ">", ">=", "and", "or", "in", "not in", "is",
          "@", "&"]
CALLS = [t for t in TOKENS if t.isidentifier() and t not in FUZZ_SCOPE and t[0] != "_"] + ["__import__"]
# well-formed Python, mostly ill-typed: exercises the type checker and, when it passes, evaluation
grammar = st.recursive(st.sampled_from(ATOMS), lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from(BINOPS), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    st.tuples(st.sampled_from(["not ", "-", "+", "~"]), inner).map("".join),
    st.tuples(st.sampled_from(CALLS), st.lists(inner, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
    st.tuples(st.just("lookup(tbl, "), inner, st.sampled_from([")", ", 'c')"])).map("".join),
    st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
    st.tuples(inner, st.sampled_from([".__class__", ".real", "[0]", "()"])).map("".join),
), max_leaves=10)
expressions = st.sampled_from([  # three in six examples are well-formed
    grammar, grammar, grammar,
    st.lists(st.sampled_from(TOKENS), min_size=1, max_size=25).map("".join),
    st.lists(st.sampled_from(TOKENS), min_size=1, max_size=25).map(" ".join),
    st.text(alphabet=string.ascii_letters[:6] + string.digits[:4] + "_()[]'\"+-*/<>=!., ", min_size=1, max_size=40),
]).flatmap(lambda strategy: strategy)
small_ints = st.integers(-1000, 1000)
envs = st.fixed_dictionaries({
    "n": st.none() | small_ints,
    "x": st.none() | st.decimals(-10**6, 10**6, allow_nan=False, allow_infinity=False, places=3),
    "m": st.none() | st.decimals(-10**6, 10**6, allow_nan=False, allow_infinity=False, places=2),
    "s": st.none() | st.text(max_size=5),
    "e": st.none() | st.sampled_from(["repair", "complaint"]),
    "d": st.none() | st.dates(date(2000, 1, 1), date(2030, 12, 31)),
    "t": st.none() | st.datetimes(datetime(2000, 1, 1), datetime(2030, 12, 31)).map(lambda v: v.replace(tzinfo=CHINA)),
    "b": st.none() | st.booleans(),
    "l": st.none() | st.lists(small_ints, max_size=4),
})


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # ast.parse warns on text like `1and`
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(text=expressions, env=envs)
def test_fuzzed_expressions_compile_or_raise_expression_error_and_evaluate_quickly(text, env):
    started = time.perf_counter()
    try:
        expr = compile_expression(text, FUZZ_SCOPE, FUNCTIONS)
    except ExpressionError as e:
        assert isinstance(e.message, str) and e.message
        return
    env = {**env, "p": Decimal("0.85"), "today": date(2026, 11, 25),
           "as_of": datetime(2026, 11, 25, 9, 30, tzinfo=CHINA)}
    with collecting_warnings() as warnings:
        expr.fn(env)  # must not raise: the engine handles nothing at evaluation time
    assert all(isinstance(w, str) for w in warnings)
    assert time.perf_counter() - started < 2.0, f"{text!r} took too long"
