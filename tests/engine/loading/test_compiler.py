"""The compiler (engine/loading/compiler.py) is strict: every problem of a rule file is reported
at once, located by file, line, column and rule id, with a message a policy owner can act on, and
the CLI exits 3 on them. The expression sandbox is tested in tests/engine/language/test_expressions.py."""
import json

import pytest

from engine.calendar import WorkCalendar
from aftersales.cli import main
from engine.loading.compiler import compile_ruleset
from engine.errors import RulesError
from engine.rulebook import RuleBook


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


MISSPELT = """\
ruleset: demo
version: "1"
inputs:
  weight_t: {type: decimal, mni: 0}
outputs:
  out: {type: string}
stages:
  - name: s
    rules:
      - id: R1
        title: t
        source: s § 1
        whenn: weight_t > 1
        then: {out: a}
"""


def test_a_misspelt_key_in_an_input_or_a_rule_names_the_key_it_was_meant_to_be(tmp_path):
    found = problems(tmp_path, MISSPELT)
    p = find(found, "unknown key 'mni' in input weight_t")
    assert "did you mean 'min'" in p.message and (p.line, p.column) == at(MISSPELT, "mni")
    p = find(found, "unknown key 'whenn' in rule R1")
    assert "did you mean 'when'" in p.message
    assert (p.line, p.column, p.rule_id) == (*at(MISSPELT, "whenn"), "R1")
    assert str(p) == f"{tmp_path / 'demo.yaml'}:{p.line}:{p.column}: error: [R1] {p.message}"


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
