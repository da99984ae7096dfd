"""Loader and `check` messages in Chinese (engine/messages.py): every message the engine's source can
emit has a Chinese template with the same placeholders; real problems of broken rule files and real
check findings come out in Chinese under zh and unchanged under en; the language follows the locale."""
import ast
import re
from pathlib import Path

import pytest

from aftersales.cli import main
from engine.messages import (
    HINTS,
    MESSAGES,
    PHRASES,
    language_from_accept,
    language_from_env,
    localize,
    problem_text,
)
from engine.rulebook import RuleBook
from engine.tooling.check import analyse
from tests.conftest import FLAWED
from tests.engine.tooling.test_check import AS_OF

ROOT = Path(__file__).resolve().parents[2]
EMITTING = [*ROOT.glob("engine/loading/*.py"), *ROOT.glob("engine/language/*.py"),
            *ROOT.glob("engine/tooling/check/*.py"), ROOT / "engine/errors.py", ROOT / "engine/types.py",
            ROOT / "engine/calendar.py"]
# the calls that make a problem, a finding or the message of one, and which argument is the message
SITES = {"add": 1, "Problem": 3, "ExpressionError": 0, "fail": 1, "_error": 0, "Finding": 5, "ValueError": 0}
PLACEHOLDER = re.compile(r"\{(\d+)\}")


def _keys(node) -> list[str]:
    """The catalogue keys of a message expression: its literal text, {0}, {1}, … for computed parts."""
    def parts(n):
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            return [[n.value]]
        if isinstance(n, ast.JoinedStr):
            return [[v.value if isinstance(v, ast.Constant) else None for v in n.values]]
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
            return [a + b for a in parts(n.left) for b in parts(n.right)]
        if isinstance(n, ast.IfExp):
            return parts(n.body) + parts(n.orelse)
        return [[None]]
    out = []
    for p in parts(node):
        n, text = 0, ""
        for x in p:
            if x is None:
                text, n = text + f"{{{n}}}", n + 1
            else:
                text += x
        out.append(text)
    return out


def emitted():
    for path in EMITTING:
        for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(n, ast.Call):
                continue
            name = n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", None)
            if name in SITES and len(n.args) > SITES[name]:
                for key in _keys(n.args[SITES[name]]):
                    if PLACEHOLDER.sub("", key):  # a message passed on whole is translated where it is made
                        yield f"{path.relative_to(ROOT)}:{n.lineno}", key


def test_every_message_the_engine_emits_has_a_chinese_template():
    found = list(emitted())
    assert len(found) > 120  # the walk sees the engine's messages
    missing = sorted({f"{where}: {key!r}" for where, key in found if key not in MESSAGES})
    assert not missing, "untranslated:\n" + "\n".join(missing)


@pytest.mark.parametrize("catalogue", [MESSAGES, PHRASES, HINTS])
def test_each_template_has_the_placeholders_of_its_pattern_and_is_chinese(catalogue):
    for english, chinese in catalogue.items():
        assert sorted(PLACEHOLDER.findall(english)) == sorted(PLACEHOLDER.findall(chinese)), english
        assert re.search(r"[\u4e00-\u9fff]", chinese) or not re.search(r"[a-z]{4}", PLACEHOLDER.sub("", english)) \
            or english in KEPT, english


KEPT = {"accept", "lambda", "f-strings"}  # the language's own words, the same in both


BASE = """\
ruleset: demo
version: "1"
inputs:
  qty: {type: integer, title: 数量}
  kind: {type: enum, values: [aa, bb]}
outputs:
  fee: {type: money, title: 费用, default: 0}
stages:
  - name: s
    rules:
      - {id: R1, title: t, source: s § 1, when: "qty > 1", then: {fee: "= qty * 2"}}
"""

BROKEN = {
    "unknown fact": BASE.replace('"qty > 1"', '"qtty > 1"'),
    "type mismatch": BASE.replace('"qty > 1"', "\"qty > '3'\""),
    "enum literal": BASE.replace('"qty > 1"', "\"kind == 'cc'\""),
    "bad YAML": BASE.replace("  qty: {type", "  qty {type"),
    "unknown key": BASE.replace("title: 数量}", "titel: 数量}"),
    "enum duplicate": BASE.replace("[aa, bb]", "[aa, aa]"),
    "money by money": BASE.replace("qty * 2", "fee * fee"),
    "wrong default": BASE.replace("default: 0", "default: abc"),
    "unknown function": BASE.replace("qty * 2", "round_mony(qty)"),
    "if() mixes": BASE.replace("qty * 2", "if(qty > 3, 1, 'x')"),
}
ENGLISH = re.compile(r"\b(the|is|not|of|in|an?|must|unknown|expected|cannot|with|and|or|has|no|by|on|to|key|"
                     r"fact|type|values|mixes|integer|string|money|gives|but|duplicate|enum|rule|output|input|"
                     r"syntax|error|warning|cases|line|allowed|mean|did|you|example|closest|case|sets|wins)\b")


def _english_left(text: str) -> list[str]:
    """English words left once quoted text (names, values, expressions) is taken out."""
    bare = re.sub(r"'[^']*'|`[^`]*`|\"[^\"]*\"|（位于：[^）]*）|\{[^}]*\}", "", text)
    return ENGLISH.findall(bare.split(": ", 1)[-1] if bare.startswith("/") else bare)


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_a_broken_rule_file_is_reported_in_chinese_under_zh_and_unchanged_under_en(tmp_path, broken):
    (tmp_path / "demo.yaml").write_text(BROKEN[broken], encoding="utf-8")
    problems = RuleBook.load(tmp_path, backend="python").errors["demo"].problems
    assert problems
    for p in problems:
        zh = problem_text(p, "zh")
        assert problem_text(p, "en") == str(p) and localize(p.message, "en") == p.message
        assert re.search(r"[\u4e00-\u9fff]", localize(p.message, "zh")), p.message
        assert not _english_left(zh), (p.message, zh)
        assert zh.startswith(f"{p.file}:{p.line}:{p.column}: 错误:")


def test_check_findings_gap_overlap_dead_never_fires_in_chinese():
    rs = RuleBook.load(FLAWED, backend="python").get("flawed").ruleset
    findings = analyse(rs, AS_OF, rules_dir=FLAWED).findings
    assert {f.kind for f in findings} >= {"gap", "overlap", "dead", "never_fires"}
    for f in findings:
        zh = problem_text(f, "zh")
        assert problem_text(f, "en") == str(f)
        assert not _english_left(zh.split("\n")[0]), zh
        assert "示例" in zh or "最接近的案例" in zh  # the example case, labelled in Chinese
    gap = next(f for f in findings if f.kind == "gap")
    assert problem_text(gap, "zh").split("\n")[0].endswith("错误: 缺口：在 " + str(gap.count)
                                                            + " 个有效案例上没有规则设定 shipping，而它没有默认值")


def test_an_untranslated_message_stays_english():
    assert localize("something the catalogue never heard of", "zh") == "something the catalogue never heard of"


def test_hints_are_translated_inside_a_message():
    assert localize("unknown fact 'qtty' — did you mean 'qty'?", "zh") == "未知的事实 'qtty'——是否想写 'qty'？"
    assert localize("unknown key 'titel' in input qty — did you mean 'title'?", "zh") \
        == "输入 qty 中有未知的键 'titel'——是否想写 'title'？"


@pytest.mark.parametrize("env, lang", [
    ({"AFTERSALES_LANG": "zh"}, "zh"), ({"AFTERSALES_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),
    ({"LANG": "zh_CN.UTF-8"}, "zh"), ({"LC_ALL": "zh_TW.UTF-8", "LANG": "C.UTF-8"}, "zh"),
    ({"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"), ({"AFTERSALES_LANG": "fr"}, "en"), ({}, "en"),
])
def test_the_cli_language_follows_aftersales_lang_then_the_locale(env, lang):
    assert language_from_env(env) == lang


@pytest.mark.parametrize("header, lang", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("en-US,en;q=0.9,zh;q=0.8", "en"), ("en;q=0.5, zh;q=0.9", "zh"),
    ("", "en"), (None, "en"), ("zh;q=bad, en", "en"),
])
def test_the_api_language_follows_accept_language(header, lang):
    assert language_from_accept(header) == lang


def test_cli_check_prints_load_problems_in_chinese_by_locale(tmp_path, capsys, monkeypatch):
    (tmp_path / "demo.yaml").write_text(BROKEN["unknown fact"], encoding="utf-8")
    monkeypatch.setenv("AFTERSALES_LANG", "zh")
    assert main(["check", str(tmp_path), "--load-only"]) == 3
    zh = capsys.readouterr().out
    monkeypatch.setenv("AFTERSALES_LANG", "en")
    assert main(["check", str(tmp_path), "--load-only"]) == 3
    en = capsys.readouterr().out
    assert "错误: [R1] 未知的事实 'qtty'——是否想写 'qty'？（位于：qtty > 1）" in zh
    assert "error: [R1] unknown fact 'qtty' — did you mean 'qty'? (in: qtty > 1)" in en


def test_cli_check_summary_lines_follow_the_language(tmp_path, capsys, monkeypatch):
    from tests.engine.tooling.test_check import ACCEPTS, _fixture_copy
    argv = ["check", str(FLAWED), "--as-of", "2026-11-25"]
    monkeypatch.setenv("AFTERSALES_LANG", "zh")
    assert main(argv) == 1
    tail = capsys.readouterr().out.splitlines()[-2:]
    assert tail[0].startswith("flawed") and "7 条规则" in tail[0] and "触发过的规则 6/7  4 项发现" in tail[0]
    assert tail[1] == "1 个规则集，7 条规则：2 个错误，2 个警告"
    assert main(["check", str(_fixture_copy(tmp_path, ACCEPTS)), "--as-of", "2026-11-25"]) == 0
    tail = capsys.readouterr().out.splitlines()[-2:]
    assert tail[0].endswith("没有发现，4 项已接受")
    assert tail[1] == "1 个规则集，7 条规则：没有问题，没有发现（YAML 中已接受 4 项；--show-accepted 列出它们）"
    assert not any(_english_left(line.replace("--show-accepted", "").replace("YAML", "").replace("flawed", ""))
                   for line in tail)
    monkeypatch.setenv("AFTERSALES_LANG", "en")
    assert main(argv) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "1 rule sets, 7 rules: 2 errors, 2 warnings"


def test_explanations_name_a_fact_with_its_chinese_title_where_it_has_one():
    from engine.explanation.explain import display_name
    from tests.conftest import RULES
    rs = RuleBook.load(RULES, backend="python").get("scrap_pricing").ruleset
    assert display_name(rs, "floor_ratio") == f"floor_ratio（{rs.parameters['floor_ratio'].title}）"
    assert rs.parameters["floor_ratio"].title
    derived = next(d.name for d in rs.derived if d.name not in rs.outputs)
    assert display_name(rs, derived) == derived  # a derived fact has no title
