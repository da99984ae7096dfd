"""`aftersales test`: the YAML rule tests on both engines, a readable expected/actual table per
failure, rule coverage per rule set and overall, --min-coverage. The shipped rules' own tests
run once, in tests/engine/tooling/test_rule_tests.py."""
import re
import shutil

import pytest

from aftersales.cli import main

from tests.conftest import FLAWED


SECOND = """ruleset: second
title: A second rule set for overall coverage
version: "1"
inputs:
  n: {type: integer, required: true}
outputs:
  big: {type: boolean, default: false}
stages:
  - name: s
    rules:
      - id: B-1
        title: big
        source: t § 1
        when: n > 10
        then: {big: true}
      - id: B-2
        title: huge
        source: t § 2
        priority: 1
        when: n > 1000
        then: {big: true}
"""


@pytest.fixture
def rules(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(FLAWED, folder)
    (folder / "second.yaml").write_text(SECOND, encoding="utf-8")
    (folder / "tests" / "second").mkdir()
    (folder / "tests" / "second" / "t.yaml").write_text("""ruleset: second
cases:
  - name: big
    case: {n: 11}
    expect: {decision: {big: true}, fired: [B-1]}
""", encoding="utf-8")
    return folder


def _run(capsys, *args):
    rc = main(["test", *args])
    return rc, capsys.readouterr().out


def test_coverage_per_rule_set_and_overall(rules, capsys):
    rc, out = _run(capsys, str(rules))
    assert rc == 0
    # flawed: S-1, S-3 and D-1 fire in its two tests, of 7 rules; second: B-1 of 2
    assert re.search(r"coverage flawed\s+3/7\s+rules fired by a test \( 42\.9%\)  never fired: S-2, D-2, D-3, L-1", out)
    assert re.search(r"coverage second\s+1/2\s+rules fired by a test \( 50\.0%\)  never fired: B-2", out)
    assert re.search(r"coverage overall\s+4/9\s+\( 44\.4%\)", out)
    assert "3 passed, 0 failed" in out


def test_min_coverage(rules, capsys):
    rc, out = _run(capsys, str(rules), "--min-coverage", "44")
    assert rc == 0
    rc, out = _run(capsys, str(rules), "--min-coverage", "45")
    assert rc == 1 and "coverage 44.4% is below --min-coverage 45%" in out
    rc, out = _run(capsys, str(rules), "--ruleset", "second", "--min-coverage", "50")
    assert rc == 0 and "coverage overall            1/2" in out and "flawed" not in out


def test_a_failure_is_an_expected_actual_table(rules, capsys):
    path = rules / "tests" / "flawed" / "cases.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "decision: {shipping: paid, discount: \"5.00\"}",
        "decision: {shipping: free, discount: \"5.00\", loyal: true}\n      absent: [discount]\n      not_fired: [S-3]"),
        encoding="utf-8")
    rc, out = _run(capsys, str(rules))
    assert rc == 1
    block = out[out.index("FAIL "):out.index("\n\n")]
    lines = block.splitlines()
    assert re.match(rf"FAIL {re.escape(str(path))}:\d+  flawed: small orders pay$", lines[0])
    assert re.match(r"\s+expected\s+actual\s+\[both engines\]$", lines[1])
    rows = [ln.split() for ln in lines[2:]]
    assert ["shipping", "free", "paid"] in rows
    assert ["loyal", "true", "false"] in rows
    assert ["discount", "(absent)", "5.00"] in rows
    assert ["rule", "S-3", "does", "not", "fire", "fired"] in rows
    assert lines[-1].strip() == "rules fired: S-3, D-1"
    assert "2 passed, 1 failed" in out


def test_the_report_is_in_chinese_under_zh(rules, capsys, monkeypatch):
    path = rules / "tests" / "flawed" / "cases.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("decision: {shipping: paid", "decision: {shipping: free"),
                    encoding="utf-8")
    monkeypatch.setenv("AFTERSALES_LANG", "zh")
    rc, out = _run(capsys, str(rules), "--min-coverage", "45")
    assert rc == 1
    lines = out[out.index("失败 "):out.index("\n\n")].splitlines()
    assert re.match(rf"失败 {re.escape(str(path))}:\d+  flawed：small orders pay$", lines[0])  # the test's own name
    assert re.match(r"\s+期望\s+实际\s+\[两种引擎\]$", lines[1]) and lines[-1].strip() == "触发的规则：S-3, D-1"
    assert re.search(r"覆盖 flawed\s+3/7\s+条规则被测试触发过（ 42\.9%）  从未触发：S-2, D-2, D-3, L-1", out)
    assert re.search(r"覆盖 合计\s+4/9\s+（ 44\.4%）", out) and "2 个通过，1 个失败" in out


def test_a_rejected_case_and_an_expected_rejection(rules, capsys):
    path = rules / "tests" / "second" / "t.yaml"
    path.write_text(path.read_text(encoding="utf-8") + """  - name: rejected
    case: {n: "x"}
    expect: {decision: {big: false}}
  - name: should be rejected
    case: {n: 1}
    expect: {errors: [n]}
""", encoding="utf-8")
    rc, out = _run(capsys, str(rules), "--ruleset", "second", "--engine", "python")
    assert rc == 1
    assert re.search(r"decision\s+decided\s+rejected: n: expected a whole number", out)
    assert re.search(r"decision\s+rejected for n\s+decided", out)
    assert re.search(r"expected\s+actual\s+\[python\]", out)
