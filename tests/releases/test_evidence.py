"""The evidence attached at submit (releases.evidence.gather): load, check, rule tests with
coverage, and the impact against the active release over logged decisions — the same answers the
CLI's tools give on the same folders and cases."""
import json
from pathlib import Path

import pytest

from engine.rulebook import RuleBook
from engine.tooling import impact
from engine.tooling.cases import valid_cases
from engine.tooling.ruletests import load_tests
from releases.evidence import gather
from releases.snapshot import Snapshot, export, read_folder
from tests.conftest import FLAWED, FLOOR_80, FLOOR_85, RULES

SHIPPED = read_folder(RULES)
# the scrap pricing rules alone (with the calendar and their tests): check analyses one rule set
SCRAP = Snapshot({n: t for n, t in SHIPPED.files.items()
                  if n in ("scrap_pricing.yaml", "calendar.yaml") or n.startswith("tests/scrap_pricing/")})


def edited(snap: Snapshot, name: str, old: str, new: str) -> Snapshot:
    assert snap.files[name].count(old) == 1, f"{old!r} is not once in {name}"
    return Snapshot({**snap.files, name: snap.files[name].replace(old, new)})


def entries(n: int, seed: int = 1) -> list[dict]:
    """n generated scrap-pricing cases as the decision log returns them, oldest first."""
    book = RuleBook.load(RULES, backend="python")
    return [{"decision_id": f"d-{i:04}", "created_at": f"2026-11-{1 + i // 100:02}T08:00:{i % 60:02}.000000Z",
             "ruleset": "scrap_pricing", "as_of": as_of, "case": case, "fired": []}
            for i, (case, as_of) in enumerate(valid_cases(book.get("scrap_pricing"), n, seed=seed, rules_dir=RULES))]


def tool_report(base: Snapshot, new: Snapshot, rows: list[dict], tmp_path: Path) -> dict:
    """What `aftersales impact --format json` reports for the two snapshots as folders."""
    export(base, tmp_path / "base")
    export(new, tmp_path / "new")
    agg, problems = impact.compare(tmp_path / "base", tmp_path / "new", impact.log_lines(rows), jobs=1)
    return impact.report_dict(agg, "base", "new", 0, problems)


def same_report(ours: dict, tool: dict) -> None:
    mine = {k: v for k, v in ours.items() if k not in ("base", "current", "seconds", "logged", "truncated", "note")}
    assert mine == {k: v for k, v in tool.items() if k not in ("base", "current", "seconds")}


@pytest.fixture(scope="module")
def shipped():
    calls = []
    return gather(SHIPPED, None, [], progress=lambda *a: calls.append(a)), calls


def test_the_shipped_rules_load_pass_their_tests_and_check_clean(shipped):
    ev, _ = shipped
    assert ev["load"] == {"ok": True, "problems": []}
    n_tests = len(load_tests(RULES))
    assert n_tests > 250
    assert (ev["tests"]["ok"], ev["tests"]["passed"], ev["tests"]["failed"]) == (True, n_tests, 0)
    cov = ev["tests"]["coverage"]
    assert cov["percent_covered"] == 100 and cov["rules"] == cov["fired"] == \
        sum(len(lr.ruleset.rules) for lr in RuleBook.load(RULES, backend="python").rulesets.values())
    assert set(cov["rulesets"]) == {"depreciation", "scrap_pricing", "sla", "warranty"}
    assert ev["check"]["findings"] == []
    assert ev["check"]["counts"] == {"findings": 0, "errors": 0, "warnings": 0, "accepted": 0}
    assert [r["ruleset"] for r in ev["check"]["rulesets"]] == ["depreciation", "scrap_pricing", "sla", "warranty"]
    assert all(r["rules_fired"] == r["rules"] and r["valid_cases"] > 0 for r in ev["check"]["rulesets"])
    assert ev["impact"] == {"skipped": "no active release to compare with"}
    assert (ev["ok_to_approve"], ev["needs_reason"]) == (True, False)
    assert json.loads(json.dumps(ev)) == ev  # stored as it is


def test_progress_goes_through_each_step_to_its_end(shipped):
    _, calls = shipped
    steps = [s for s, _, _ in calls]
    assert sorted(set(steps), key=steps.index) == ["load", "check", "tests"]
    assert steps == sorted(steps, key=["load", "check", "tests"].index)  # one step after the other
    assert ("load", 4, 4) in calls and ("check", 4, 4) in calls
    n_tests = len(load_tests(RULES))
    assert calls[-1] == ("tests", n_tests, n_tests)
    assert 50 <= steps.count("tests") <= 110  # about every 1%, not every test


def test_a_broken_rule_file_is_named_with_its_line_and_cannot_be_approved():
    snap = edited(SCRAP, "scrap_pricing.yaml", "          - reusable_part\n          - not freight_exceeds_reuse\n",
                  "          - reusable_prat\n          - not freight_exceeds_reuse\n")
    line = snap.files["scrap_pricing.yaml"].splitlines().index("          - reusable_prat") + 1
    ev = gather(snap, SCRAP, [])
    assert ev["load"]["ok"] is False
    (p,) = ev["load"]["problems"]
    assert (p["file"], p["line"], p["rule_id"]) == ("scrap_pricing.yaml", line, "SP-102")
    assert "unknown fact 'reusable_prat'" in p["message"]
    assert ev["tests"]["ok"] is False
    assert "rule set 'scrap_pricing' is not loaded" in ev["tests"]["failures"][0]["message"]
    assert ev["ok_to_approve"] is False
    assert ev["impact"]["load_problems"]["current"] == [
        f"scrap_pricing.yaml:{line}:13: error: [SP-102] " + p["message"]]


def test_a_failing_rule_test_is_named_and_the_release_cannot_be_approved():
    name = "tests/scrap_pricing/pricing.yaml"
    snap = edited(SCRAP, name, 'floor_price: "3400.00"\n', 'floor_price: "3400.01"\n')
    ev = gather(snap, None, [])
    assert ev["load"]["ok"] is True
    assert (ev["tests"]["ok"], ev["tests"]["failed"]) == (False, 1)
    assert ev["tests"]["passed"] == len([n for n in load_tests(RULES) if "/scrap_pricing/" in n.file]) - 1
    assert ev["tests"]["failures"] == [{
        "where": f"{name}:4", "name": "几种等级的金属折中报价（两级平均）",
        "message": "floor_price: expected '3400.01', got '3400.00'"}]
    assert ev["ok_to_approve"] is False


def test_a_rule_no_test_fires_fails_the_tests_on_coverage():
    # without the verdict tests, the verdict rules are fired by no test
    snap = Snapshot({n: t for n, t in SCRAP.files.items() if n != "tests/scrap_pricing/verdict.yaml"})
    ev = gather(snap, None, [])
    cov = ev["tests"]["coverage"]
    assert ev["tests"]["failed"] == 0 and cov["percent_covered"] < 100
    assert cov["rulesets"]["scrap_pricing"]["never_fired"]
    assert (ev["tests"]["ok"], ev["ok_to_approve"]) == (False, False)


def test_accepted_check_findings_are_listed_as_accepted_and_open_ones_need_a_reason():
    flawed = read_folder(FLAWED)
    snap = edited(flawed, "flawed.yaml", "        title: Free shipping for big orders (shadowed by S-1)\n",
                  "        title: Free shipping for big orders (shadowed by S-1)\n"
                  '        accept: [{finding: dead, reason: "kept so the clause of § 2 stays visible"}]\n')
    ev = gather(snap, None, [])
    dead = [f for f in ev["check"]["findings"] if f["rule_id"] == "S-2"]
    assert [(f["kind"], f["file"], f["accepted"]) for f in dead] == \
        [("dead", "flawed.yaml", "kept so the clause of § 2 stays visible")]
    counts = ev["check"]["counts"]
    assert counts["accepted"] == 1 and counts["errors"] > 0
    assert counts["findings"] == len(ev["check"]["findings"]) == counts["errors"] + counts["warnings"] + 1
    assert ev["needs_reason"] is True


def test_impact_of_a_lower_floor_is_what_the_impact_tool_reports(tmp_path):
    new = edited(SCRAP, "scrap_pricing.yaml", FLOOR_85, FLOOR_80)
    rows = entries(300)
    calls = []
    ev = gather(new, SCRAP, rows, progress=lambda *a: calls.append(a))
    rep = ev["impact"]
    assert rep["cases"] == rep["logged"] == 300 and rep["truncated"] is False and "note" not in rep
    assert rep["changed"] > 0
    money = rep["rulesets"]["scrap_pricing"]["money"]["floor_price"]
    assert money["cases_down"] > 0 and money["cases_up"] == 0 and money["total"].startswith("-")
    assert any(t["output"] == "floor_price" for t in rep["rulesets"]["scrap_pricing"]["transitions"])
    same_report(rep, tool_report(SCRAP, new, rows, tmp_path))
    impact_calls = [c for c in calls if c[0] == "impact"]
    assert impact_calls[-1] == ("impact", 300, 300) and 50 <= len(impact_calls) <= 110


def test_impact_compares_only_the_most_recent_cases_and_says_so(tmp_path):
    new = edited(SCRAP, "scrap_pricing.yaml", FLOOR_85, FLOOR_80)
    rows = entries(300)
    rep = gather(new, SCRAP, iter(rows), max_cases=120)["impact"]
    assert (rep["cases"], rep["logged"], rep["truncated"]) == (120, 300, True)
    assert rep["note"] == "only the most recent 120 of 300 logged decisions were compared"
    same_report(rep, tool_report(SCRAP, new, rows[-120:], tmp_path))


def test_bad_entries_and_refused_cases_are_counted_not_raised(tmp_path):
    new = edited(SCRAP, "scrap_pricing.yaml", FLOOR_85, FLOOR_80)
    good = entries(5)
    refused = {"decision_id": "d-bad", "ruleset": "scrap_pricing", "as_of": "2026-11-25",
               "case": {"weight_t": "heavy"}}
    rows = good + [refused, "not an entry", {"ruleset": "scrap_pricing"}]
    rep = gather(new, SCRAP, rows)["impact"]
    assert (rep["cases"], rep["unreadable"]) == (6, 2)
    assert [u["line"] for u in rep["unreadable_lines"]] == [7, 8]
    assert all(u["error"].startswith("not a decision-log entry") for u in rep["unreadable_lines"])
    same_report({**rep, "unreadable": 0, "unreadable_lines": []}, tool_report(SCRAP, new, good + [refused], tmp_path))


@pytest.mark.parametrize("case, expect, message", [
    ("[1, 2]", "{decision: {}}", "case 1: case: is the input fields, name: value"),
    ("{weight_t: 2, market_prices_per_t: [1800]}", "{fired: 5}", "the test cannot be run: TypeError:"),
])
def test_a_malformed_rule_test_is_a_failure_named_by_file_and_line(case, expect, message):
    text = f"ruleset: scrap_pricing\ncases:\n  - name: odd\n    as_of: 2026-11-25\n    case: {case}\n    expect: {expect}\n"
    ev = gather(Snapshot({**SCRAP.files, "tests/scrap_pricing/odd.yaml": text}), None, [])
    (failure,) = [f for f in ev["tests"]["failures"] if f["where"] == "tests/scrap_pricing/odd.yaml:3"]
    assert failure["message"].startswith(message)
    assert (ev["tests"]["ok"], ev["ok_to_approve"]) == (False, False)


def test_the_tests_run_on_the_backend_the_service_serves_with():
    ev = gather(SCRAP, None, [], backend="durable")
    n_tests = len([t for t in load_tests(RULES) if "/scrap_pricing/" in t.file])
    assert (ev["load"]["ok"], ev["tests"]["ok"], ev["tests"]["passed"]) == (True, True, n_tests)
