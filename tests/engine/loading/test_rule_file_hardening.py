"""Hostile rule files (issue 10, items 2 and 3): a rule file that breaks the loader in any way is a
refusal of that file with file:line (never a crash or a traceback), and alias bombs are refused.
What the service does with a refused file (serving the last good version) is tests/api/test_rulesource.py."""
import json
import shutil
import time
from pathlib import Path

import pytest

from aftersales.cli import main
from engine.calendar import WorkCalendar
from engine.errors import RulesError
from engine.loading.compiler import compile_ruleset
from engine.rulebook import RuleBook

from tests.conftest import RULES

SLA_CASE = {"kind": "repair", "requested_at": "2026-11-23T09:00:00+08:00"}
ORIGINAL = (RULES / "sla.yaml").read_text(encoding="utf-8")
PARAMS_LINE = ORIGINAL.splitlines().index("parameters:") + 1


def huge_parameter(digits=5001) -> str:
    return ORIGINAL.replace("parameters:\n", f"parameters:\n  huge: {'9' * digits}\n", 1)


def deep_nesting(depth=20_000) -> str:
    return ORIGINAL + "description: " + "[" * depth + "]" * depth + "\n"


def alias_bomb(levels=9) -> str:
    """Nested anchors: a few KB that stand for 9**levels nodes."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def rules_copy(tmp_path) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("tests"))
    return rules


def refused(path: Path, text: str):
    """The problems of compiling `text` as `path`; a refusal must be a RulesError, within 2 s."""
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(RulesError) as e:
        compile_ruleset(path, WorkCalendar.package_only())
    assert time.monotonic() - started < 2
    return e.value.problems


# ------------------------------------------------------------------------------ item 2


def test_a_5001_digit_parameter_is_refused_at_its_line(tmp_path):
    # before: ValueError "Exceeds the limit (4300 digits)" escaped the loader
    (p,) = refused(tmp_path / "sla.yaml", huge_parameter())
    assert (p.line, p.column) == (PARAMS_LINE + 1, 9) and "more than 30 digits" in p.message
    assert p.file.endswith("sla.yaml")


@pytest.mark.parametrize("number", ["1.5e+99999999", "0.000000000000000000000000000000000001",
                                    "0x" + "f" * 40, "1:" * 40 + "1"])
def test_numbers_out_of_range_are_refused_at_their_line(tmp_path, number):
    text = ORIGINAL.replace("parameters:\n", f"parameters:\n  huge: {number}\n", 1)
    (p,) = refused(tmp_path / "sla.yaml", text)
    assert p.line == PARAMS_LINE + 1


@pytest.mark.parametrize("shape", ["[", "{a: ", "- "])
def test_yaml_nested_20000_deep_is_refused_at_its_line(tmp_path, shape):
    # before: RecursionError
    if shape == "- ":
        text = ORIGINAL + "description:\n" + "- " * 20_000 + "1\n"  # block sequences, compact
    else:
        close = {"[": "]", "{a: ": "}"}[shape]
        text = ORIGINAL + "description: " + shape * 20_000 + "1" + close * 20_000 + "\n"
    (p,) = refused(tmp_path / "sla.yaml", text)
    assert p.line > ORIGINAL.count("\n") and "nested more than 64 levels deep" in p.message


def test_a_file_over_the_size_bound_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "sla.yaml"
    path.write_text(ORIGINAL + "#" * (1024 * 1024) + "\n", encoding="utf-8")
    with pytest.raises(RulesError, match="larger than 1048576 bytes"):
        compile_ruleset(path, WorkCalendar.package_only())


def test_a_loader_failure_nobody_planned_for_is_a_refusal_of_that_file(tmp_path, monkeypatch):
    import engine.loading.compiler
    rules = rules_copy(tmp_path)

    def boom(self):
        if self.path.name == "sla.yaml":
            raise KeyError("an engine bug")
        return compile_(self)
    compile_ = engine.loading.compiler._RuleSetCompiler.compile
    monkeypatch.setattr(engine.loading.compiler._RuleSetCompiler, "compile", boom)
    book = RuleBook.load(rules, backend="python")
    assert set(book.rulesets) == {"warranty", "scrap_pricing", "depreciation"}
    (p,) = book.errors["sla"].problems
    assert p.file.endswith("sla.yaml") and p.line == 1 and "KeyError" in p.message


def test_a_non_utf8_calendar_is_a_refusal_with_its_line(tmp_path):
    rules = rules_copy(tmp_path)
    (rules / "calendar.yaml").write_bytes(b"years:\n  2027:\n    holidays: [\xff]\n")
    book = RuleBook.load(rules, backend="python")  # before: UnicodeDecodeError
    (p,) = book.errors["calendar"].problems
    assert (p.line, p.column) == (3, 16) and "not UTF-8" in p.message


def test_cli_exits_3_naming_the_file_and_line(tmp_path, capsys):
    rules = rules_copy(tmp_path)
    (rules / "sla.yaml").write_text(deep_nesting(), encoding="utf-8")
    case = tmp_path / "case.json"
    case.write_text(json.dumps(SLA_CASE), encoding="utf-8")
    code = main(["eval", "sla", str(case), "--rules", str(rules), "--engine", "python", "--as-of", "2026-11-23"])
    assert code == 3  # before: a RecursionError traceback, exit 1
    assert f"sla.yaml:{ORIGINAL.count(chr(10)) + 1}:" in capsys.readouterr().err


# ------------------------------------------------------------------------------ item 3


def test_an_alias_bomb_is_refused_at_the_alias_that_exceeds_the_bound(tmp_path):
    text = alias_bomb()
    assert len(text) < 9000
    (p,) = refused(tmp_path / "sla.yaml", text)
    assert p.line == 5 and "aliases repeat more than 10000 nodes" in p.message


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    (p,) = refused(tmp_path / "sla.yaml", ORIGINAL + "description: &loop [a, *loop]\n")
    assert p.line == ORIGINAL.count("\n") + 1 and "inside its own anchor" in p.message


def test_small_aliases_still_load(tmp_path):
    text = ORIGINAL.replace("parameters:\n", "parameters:\n  a: &days 5\n  b: *days\n", 1)
    path = tmp_path / "sla.yaml"
    path.write_text(text, encoding="utf-8")
    rs = compile_ruleset(path, WorkCalendar.package_only())
    assert rs.parameters["b"].value == 5


def test_nesting_built_up_through_aliases_is_refused_at_the_alias(tmp_path):
    """Each anchor 60 levels deep, within the bound, each holding the one before: the aliases
    stand for a value nested 120 levels deep."""
    lines = ["a0: &a0 " + "[" * 60 + "x" + "]" * 60, "a1: &a1 " + "[" * 60 + "*a0" + "]" * 60]
    (p,) = refused(tmp_path / "sla.yaml", ORIGINAL + "\n".join(lines) + "\n")
    assert p.line == ORIGINAL.count("\n") + 2 and "nested more than 64 levels deep (through *a0)" in p.message
