"""`aftersales check`: dead rules, overlaps, conflicts and gaps found by boundary-value
analysis, each with an example case that really shows it; accepting a finding in the
YAML; the shipped rule sets check clean."""
import json
import shutil
from datetime import datetime

import pytest

from engine.tooling.check import Candidates, analyse, materialize
from aftersales.cli import main
from engine.language.conditions import compile_condition
from engine.rulebook import RuleBook
from engine.explanation.trace import trace
from engine.types import CHINA

from tests.conftest import FLAWED, RULES

AS_OF = datetime(2026, 11, 25, 10, tzinfo=CHINA)


@pytest.fixture(scope="module")
def flawed():
    return RuleBook.load(FLAWED, backend="python").get("flawed").ruleset


@pytest.fixture(scope="module")
def report(flawed):
    return analyse(flawed, AS_OF, rules_dir=FLAWED)


def _by(report, kind, rule_id=None, output=None):
    return [f for f in report.findings if f.kind == kind and (rule_id is None or f.rule_id == rule_id)
            and (output is None or f.output == output)]


def _decide(rs, example):
    return trace(rs, example["case"], datetime.fromisoformat(example["as_of"]))


def test_boundary_values_around_each_constant(flawed):
    c = Candidates(flawed)
    amounts = set(c.lists["amount"])
    for threshold in ("50", "100", "200", "400", "500"):  # parameters and literals alike
        d = int(threshold)
        assert {f"{d - 1}.99", f"{d}.00", f"{d}.01"} <= amounts, threshold
    assert set(c.lists["tier"]) >= {"basic", "gold", "platinum"}
    assert {True, False} <= set(c.lists["express"])
    # days_between(member_since, today) > 365: member_since 364, 365 and 366 days before as_of
    member = {materialize(x, AS_OF) for x in c.lists["member_since"] if isinstance(x, tuple) and x[0] == "d"}
    assert {"2025-11-24", "2025-11-25", "2025-11-26"} <= member
    assert ("absent",) in c.lists["member_since"]  # optional, no default: "not given" is a case too


def test_dead_rule_with_example(flawed, report):
    (dead,) = _by(report, "dead")
    assert dead.rule_id == "S-2" and dead.level == "error" and dead.other == "S-1"
    assert dead.line == flawed.rule("S-2").line
    assert "S-1 (priority 10) decides shipping" in dead.message
    t = _decide(flawed, dead.example)  # the example really shows it: S-2 holds, S-1 decides
    assert t.held["S-2"] is True and t.winners["shipping"] == ["S-1"]


def test_overlap_with_example(flawed, report):
    (ov,) = _by(report, "overlap")
    assert (ov.rule_id, ov.other, ov.output, ov.level) == ("D-2", "D-1", "discount", "warning")
    assert "'5.00'" in ov.message and "'0.00'" in ov.message
    t = _decide(flawed, ov.example)
    assert {"D-1", "D-2"} <= set(t.fired)
    assert t.decision.outputs["discount"] == "5.00"  # file order decided


def test_gap_with_example(flawed, report):
    (gap,) = _by(report, "gap")
    assert gap.output == "shipping" and gap.level == "error"
    assert gap.line == flawed.outputs["shipping"].line
    t = _decide(flawed, gap.example)
    assert "shipping" not in t.decision.outputs
    amount = float(gap.example["case"]["amount"])
    assert 50 <= amount < 100  # the hole between S-3 (< 50) and S-1 (>= 100)


def test_rule_that_never_fires_is_a_warning_with_the_closest_case(report):
    (nf,) = _by(report, "never_fires")
    assert nf.rule_id == "D-3" and nf.level == "warning"
    assert "amount > 500" in nf.message or "amount < 400" in nf.message
    assert nf.example is not None


def test_no_false_findings_on_the_fixture(report):
    assert {(f.kind, f.rule_id or f.output) for f in report.findings} == {
        ("dead", "S-2"), ("overlap", "D-2"), ("gap", "shipping"), ("never_fires", "D-3")}


def test_the_analysis_is_deterministic(flawed, report):
    again = analyse(flawed, AS_OF, rules_dir=FLAWED)
    assert [f.as_dict() for f in again.findings] == [f.as_dict() for f in report.findings]
    assert again.cases == report.cases


def test_cli_text_and_exit_code(capsys):
    rc = main(["check", str(FLAWED), "--as-of", "2026-11-25T10:00:00+08:00"])
    out = capsys.readouterr().out
    assert rc == 1
    path = str(FLAWED / "flawed.yaml")
    assert f"{path}:36: error: [S-2] can never decide anything" in out
    assert f"{path}:53: warning: [D-2] overlaps D-1" in out
    assert f"{path}:21: error: gap: no rule sets shipping" in out
    assert "    example (as_of 2026-11-25" in out
    assert "1 rule sets, 7 rules: 2 errors, 2 warnings" in out


def test_cli_json(capsys):
    rc = main(["check", str(FLAWED), "--format", "json", "--as-of", "2026-11-25"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert doc["problems"] == []
    kinds = sorted(f["kind"] for f in doc["findings"])
    assert kinds == ["dead", "gap", "never_fires", "overlap"]
    f = next(f for f in doc["findings"] if f["kind"] == "dead")
    assert f["file"].endswith("flawed.yaml") and f["line"] == 36 and f["example"]["case"]
    assert doc["rulesets"][0]["ruleset"] == "flawed" and doc["rulesets"][0]["valid_cases"] > 100


def test_load_only_skips_the_analysis(capsys):
    assert main(["check", str(FLAWED), "--load-only"]) == 0
    assert "1 rule sets, 7 rules: no problems" in capsys.readouterr().out


ACCEPTS = {
    """        title: Free shipping for big orders (shadowed by S-1)
""": """        title: Free shipping for big orders (shadowed by S-1)
        accept: [{finding: dead, reason: "kept so the clause of § 2 stays visible"}]
""",
    """        title: Express orders get no discount
""": """        title: Express orders get no discount
        accept:
          - {finding: overlap, with: D-1, output: discount, reason: "gold wins; finance agreed"}
""",
    """  shipping:
    type: enum
""": """  shipping:
    accept: [{finding: gap, reason: "50-99.99 is decided by hand"}]
    type: enum
""",
    """        title: A contradiction that can never hold
""": """        title: A contradiction that can never hold
        accept: [{finding: dead, reason: "placeholder for 2027"}]
""",
}


def _fixture_copy(tmp_path, replacements):
    folder = tmp_path / "rules"
    shutil.copytree(FLAWED, folder)
    text = (folder / "flawed.yaml").read_text(encoding="utf-8")
    for a, b in replacements.items():
        assert a in text
        text = text.replace(a, b, 1)
    (folder / "flawed.yaml").write_text(text, encoding="utf-8")
    return folder


def test_accepted_findings_pass_and_are_listed_on_request(tmp_path, capsys):
    folder = _fixture_copy(tmp_path, ACCEPTS)
    assert main(["check", str(folder), "--as-of", "2026-11-25"]) == 0
    out = capsys.readouterr().out
    assert "no findings, 4 accepted" in out
    assert main(["check", str(folder), "--as-of", "2026-11-25", "--show-accepted"]) == 0
    out = capsys.readouterr().out
    assert ": accepted: [S-2] can never decide anything" in out and "(accepted: kept so the clause" in out
    assert "(accepted: 50-99.99 is decided by hand)" in out


def test_an_accept_that_matches_nothing_is_reported(tmp_path, capsys):
    folder = _fixture_copy(tmp_path, {
        """        title: Small orders pay shipping
""": """        title: Small orders pay shipping
        accept: [{finding: overlap, with: S-1, reason: "stale"}]
"""})
    assert main(["check", str(folder), "--as-of", "2026-11-25"]) == 1
    out = capsys.readouterr().out
    assert "warning: [S-3] accept entry (overlap with S-1) matches no finding on the generated cases" in out


def test_strict_fails_on_warnings(tmp_path, capsys):
    folder = _fixture_copy(tmp_path, {k: v for k, v in ACCEPTS.items() if "D-1" not in v})
    assert main(["check", str(folder), "--as-of", "2026-11-25"]) == 0  # only the overlap warning is left
    assert main(["check", str(folder), "--as-of", "2026-11-25", "--strict"]) == 1
    assert "[D-2] overlaps D-1" in capsys.readouterr().out


@pytest.mark.parametrize("snippet, message", [
    ("accept: [{finding: dead}]", "give the reason"),
    ("accept: [{finding: gap, reason: x}]", "finding must be dead or overlap or conflict here"),
    ("accept: [{finding: overlap, with: S-9, reason: x}]", "accept: no rule 'S-9'"),
    ("accept: [{finding: overlap, output: shiping, reason: x}]", "unknown output 'shiping' — did you mean 'shipping'?"),
    ("accept: {finding: dead, reason: x}", "accept is a list"),
    ("accept: [{finding: dead, reason: x, because: y}]", "unknown key 'because' in accept"),
])
def test_accept_entries_are_checked_at_load(tmp_path, snippet, message):
    folder = _fixture_copy(tmp_path, {
        """        title: Small orders pay shipping
""": f"""        title: Small orders pay shipping
        {snippet}
"""})
    book = RuleBook.load(folder, backend="python")
    problems = [str(p) for p in book.all_problems()]
    assert any(message in p and "[S-3]" in p for p in problems), problems


@pytest.mark.parametrize("snippet, message", [
    ("required: [1]", "required is true, false or a condition"),
    ("required: amount >", "syntax error"),
    ("required: amount", "gives money, but boolean is expected"),
])
def test_required_is_checked_at_load(tmp_path, snippet, message):
    folder = _fixture_copy(tmp_path, {"  shipping:\n    type: enum\n": f"  shipping:\n    {snippet}\n    type: enum\n"})
    problems = [str(p) for p in RuleBook.load(folder, backend="python").all_problems()]
    assert any(message in p for p in problems), problems


def test_required_condition_narrows_the_gap(tmp_path):
    folder = _fixture_copy(tmp_path, {"  shipping:\n    type: enum\n": "  shipping:\n    required: amount < 60\n    type: enum\n"})
    rs = RuleBook.load(folder, backend="python").get("flawed").ruleset
    rep = analyse(rs, AS_OF)
    (gap,) = [f for f in rep.findings if f.kind == "gap"]
    assert 50 <= float(gap.example["case"]["amount"]) < 60
    assert "it is required when amount < 60" in gap.message
    folder2 = _fixture_copy(tmp_path / "2", {"  shipping:\n    type: enum\n": "  shipping:\n    required: false\n    type: enum\n"})
    rs2 = RuleBook.load(folder2, backend="python").get("flawed").ruleset
    assert not [f for f in analyse(rs2, AS_OF).findings if f.kind == "gap"]


CONFLICT = """ruleset: conflict
title: Two rules decide a unique output
version: "1"
inputs:
  weight: {type: decimal, min: 0, required: true}
  fragile: {type: boolean, default: false}
outputs:
  carrier: {type: enum, values: [post, courier], combine: unique}
stages:
  - name: carrier
    rules:
      - id: C-1
        title: Light parcels by post
        source: fixture § 1
        when: weight <= 2
        then: {carrier: post}
      - id: C-2
        title: Heavy or fragile parcels by courier
        source: fixture § 2
        when:
          any: [weight > 2, fragile]
        then: {carrier: courier}
"""


def test_conflict_on_a_unique_output(tmp_path):
    (tmp_path / "conflict.yaml").write_text(CONFLICT, encoding="utf-8")
    rs = RuleBook.load(tmp_path, backend="python").get("conflict").ruleset
    rep = analyse(rs, AS_OF)
    (c,) = [f for f in rep.findings if f.kind == "conflict"]
    assert c.level == "error" and c.output == "carrier" and {c.rule_id, c.other} == {"C-1", "C-2"}
    case = c.example["case"]
    assert case["fragile"] is True and float(case["weight"]) <= 2
    assert not [f for f in rep.findings if f.kind in ("gap", "dead", "overlap")]


def test_first_hit_table_row_behind_a_wider_row_is_dead(tmp_path):
    text = (RULES / "scrap_pricing.yaml").read_text(encoding="utf-8")
    a = '          - {id: SP-AP.1, title: 原值5万元以上上报公司主管领导审批, row: ["> leader_threshold", company_leader]}\n'
    b = '          - {id: SP-AP.2, title: 原值2-5万元（含5万元）上报公司主管部门审批, row: ["> department_threshold", company_department]}\n'
    assert a + b in text
    (tmp_path / "scrap_pricing.yaml").write_text(text.replace(a + b, b + a), encoding="utf-8")
    shutil.copy(RULES / "calendar.yaml", tmp_path)
    rs = RuleBook.load(tmp_path, backend="python").get("scrap_pricing").ruleset
    rep = analyse(rs, AS_OF, budget=3000)
    (dead,) = [f for f in rep.findings if f.kind == "dead"]
    assert dead.rule_id == "SP-AP.1" and "an earlier row of table SP-AP (SP-AP.2) matches first" in dead.message
    assert float(dead.example["case"]["original_value"]) > 50000


@pytest.mark.parametrize("name", ["depreciation", "scrap_pricing", "sla", "warranty"])
def test_shipped_rule_sets_check_clean(books, name):
    rs = books["python"].get(name).ruleset
    rep = analyse(rs, AS_OF, budget=4000, rules_dir=RULES)
    assert rep.fired == rep.rules, "every rule fires on some generated case"
    assert not rep.open, "\n".join(str(f) for f in rep.open)
    assert not [f for f in rep.findings if f.accepted], "the shipped rules accept no finding"


def test_example_conditions_hold_where_the_finding_says(flawed, report):
    """A dead rule's example makes its condition true (as compiled, not via the trace)."""
    (dead,) = _by(report, "dead")
    t = _decide(flawed, dead.example)
    assert compile_condition(flawed.rule("S-2").when)(t.env) is True
