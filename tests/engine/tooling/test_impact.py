"""`aftersales impact`: two versions of a rule set in a temporary git repository, a generated
corpus, and transitions and money sums checked against what the two versions say."""
import io
import json
import random
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

import pytest

from aftersales.cli import main
from engine.tooling import impact

V1 = """ruleset: shop
title: Shipping and return fees
version: "1"
inputs:
  amount: {type: money, min: 0, required: true}
  member: {type: boolean, default: false}
  request: {type: enum, values: [delivery, return], default: delivery}
parameters:
  free_from: 100
  shipping_fee: 10
outputs:
  shipping: {type: enum, values: [free, paid]}
  fee: {type: money}
  refund: {type: money}
stages:
  - name: shipping
    rules:
      - id: S-FREE
        title: Free shipping from free_from
        source: test § 1
        when: amount >= free_from or member
        then: {shipping: free, fee: "0.00"}
      - id: S-PAID
        title: Otherwise paid
        source: test § 2
        when: [amount < free_from, not member]
        then: {shipping: paid, fee: = shipping_fee}
  - name: refund
    rules:
      - id: R-1
        title: Refund the amount
        source: test § 3
        when: request == 'return'
        then: {refund: = amount}
"""

# Version 2: free shipping only from 150, the fee goes up to 12, members no longer ship free,
# and a return keeps back 5%.
V2 = (V1.replace('version: "1"', 'version: "2"')
        .replace("free_from: 100", "free_from: 150")
        .replace("shipping_fee: 10", "shipping_fee: 12")
        .replace("when: amount >= free_from or member", "when: amount >= free_from")
        .replace("when: [amount < free_from, not member]", "when: amount < free_from")
        .replace("then: {refund: = amount}", "then: {refund: = round_money(amount * 0.95)}"))


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin", "HOME": str(repo)})


@pytest.fixture
def repo(tmp_path):
    r = tmp_path / "repo"
    (r / "rules").mkdir(parents=True)
    _git(r, "init", "-q")
    (r / "rules" / "shop.yaml").write_text(V1, encoding="utf-8")
    _git(r, "add", ".")
    _git(r, "commit", "-q", "-m", "v1")
    (r / "rules" / "shop.yaml").write_text(V2, encoding="utf-8")
    _git(r, "commit", "-q", "-am", "v2")
    return r


def corpus(n, seed=3):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        case = {"amount": f"{rng.randrange(0, 30000) / 100:.2f}"}
        if rng.random() < 0.3:
            case["member"] = True
        if rng.random() < 0.25:
            case["request"] = "return"
        out.append({"decision_id": f"d{i}", "ruleset": {"name": "shop", "version": "1"} if i % 2 else "shop",
                    "as_of": "2026-11-25", "case": case})
    return out


def expected(records):
    """What the two versions decide, by hand."""
    trans, money = {}, {"fee": [], "refund": []}
    changed = 0
    for i, rec in enumerate(records, start=1):
        c = rec["case"]
        a, member, ret = Decimal(c["amount"]), c.get("member", False), c.get("request") == "return"
        free1, free2 = a >= 100 or member, a >= 150
        fee1, fee2 = Decimal("0.00") if free1 else Decimal(10), Decimal("0.00") if free2 else Decimal(12)
        ref1 = a if ret else None
        ref2 = (a * Decimal("0.95")).quantize(Decimal("0.01"), ROUND_HALF_UP) if ret else None
        diff = False
        if free1 != free2:
            k = ("shipping", "free" if free1 else "paid", "paid" if not free2 else "free")
            trans[k] = trans.get(k, 0) + 1
            diff = True
        if fee1 != fee2:
            money["fee"].append((fee2 - fee1, rec["decision_id"]))
            trans[("fee", "changed", "")] = trans.get(("fee", "changed", ""), 0) + 1
            diff = True
        if ref1 != ref2:
            money["refund"].append((ref2 - ref1, rec["decision_id"]))
            trans[("refund", "changed", "")] = trans.get(("refund", "changed", ""), 0) + 1
            diff = True
        changed += diff
    return changed, trans, money


def _write(tmp_path, records, extra_lines=()):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join([json.dumps(r) for r in records] + list(extra_lines)) + "\n", encoding="utf-8")
    return path


def _run(capsys, *args):
    rc = main(["impact", *args, "--no-progress"])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_transitions_and_money_between_two_git_revisions(repo, tmp_path, capsys):
    records = corpus(600)
    cases = _write(tmp_path, records)
    rc, out, err = _run(capsys, "--base", "HEAD~1", "--rules", str(repo / "rules"), "--cases", str(cases),
                        "--format", "json")
    assert rc == 0, err
    rep = json.loads(out)
    changed, trans, money = expected(records)
    assert rep["cases"] == 600 and rep["changed"] == changed > 0
    assert rep["base"].startswith("HEAD~1 (") and rep["base"].endswith(":rules)")
    got = {(t["output"], t["before"], t["after"]): t["cases"] for t in rep["rulesets"]["shop"]["transitions"]}
    assert got == trans
    assert got[("shipping", "free", "paid")] > 0 and ("shipping", "paid", "free") not in got
    for output in ("fee", "refund"):
        deltas = money[output]
        m = rep["rulesets"]["shop"]["money"][output]
        assert Decimal(m["total"]) == sum(d for d, _ in deltas)
        assert Decimal(m["up"]) == sum(d for d, _ in deltas if d > 0)
        assert Decimal(m["down"]) == sum(d for d, _ in deltas if d < 0)
        assert m["cases_up"] == sum(1 for d, _ in deltas if d > 0)
        assert m["cases_down"] == sum(1 for d, _ in deltas if d < 0)
        biggest = max(deltas, key=lambda x: abs(x[0]))
        assert Decimal(m["largest"]["change"]) == biggest[0]
    # a few examples per transition, with the rules that decided before and after
    t = next(t for t in rep["rulesets"]["shop"]["transitions"] if t["output"] == "shipping")
    assert 1 <= len(t["examples"]) <= 3
    ex = t["examples"][0]
    assert ex["before"]["value"] == "free" and ex["after"]["value"] == "paid"
    assert ex["before"]["decided_by"] == ["S-FREE"] and ex["after"]["decided_by"] == ["S-PAID"]
    assert "S-FREE" in ex["before"]["fired"] and "S-PAID" in ex["after"]["fired"]
    assert ex["case_id"].startswith("d")


def test_text_report(repo, tmp_path, capsys):
    records = corpus(300)
    rc, out, _ = _run(capsys, "--base", "HEAD~1", "--rules", str(repo / "rules"), "--cases", str(_write(tmp_path, records)))
    assert rc == 0
    changed, trans, _ = expected(records)
    assert f"300 cases, {changed} decisions changed" in out
    lines = [ln for ln in out.splitlines() if ln.strip().startswith("shipping: free → paid")]
    assert lines and lines[0].split()[-1] == str(trans[("shipping", "free", "paid")])
    assert "money moved" in out and "largest single change" in out
    assert "decided by: S-FREE → S-PAID" in out


def test_working_tree_against_head_and_a_folder_base(repo, tmp_path, capsys):
    # an uncommitted edit of the working tree: the fee goes to 15
    (repo / "rules" / "shop.yaml").write_text(V2.replace("shipping_fee: 12", "shipping_fee: 15"), encoding="utf-8")
    records = [{"ruleset": "shop", "as_of": "2026-11-25", "case": {"amount": "20.00"}}] * 4
    cases = _write(tmp_path, records)
    rc, out, _ = _run(capsys, "--base", "HEAD", "--rules", str(repo / "rules"), "--cases", str(cases), "--format", "json")
    rep = json.loads(out)
    assert rep["changed"] == 4
    assert rep["rulesets"]["shop"]["money"]["fee"]["total"] == "12.00"  # 4 × (15 − 12)
    # a folder as the base
    base = tmp_path / "old"
    base.mkdir()
    (base / "shop.yaml").write_text(V1, encoding="utf-8")
    rc, out, _ = _run(capsys, "--base", str(base), "--rules", str(repo / "rules"), "--cases", str(cases), "--format", "json")
    assert json.loads(out)["rulesets"]["shop"]["money"]["fee"]["total"] == "20.00"  # 4 × (15 − 10)
    assert json.loads(out)["base"] == f"folder {base}"


def test_unreadable_lines_rejected_cases_and_unknown_rule_sets(repo, tmp_path, capsys):
    records = [{"ruleset": "shop", "as_of": "2026-11-25", "case": {"amount": "160.00", "member": True}},
               {"ruleset": "shop", "as_of": "2026-11-25", "case": {"amount": "-1"}},  # rejected by both
               {"ruleset": "nope", "as_of": "2026-11-25", "case": {}}]
    cases = _write(tmp_path, records, ["{not json", json.dumps({"case": {"amount": "1"}})])
    rc, out, _ = _run(capsys, "--base", "HEAD~1", "--rules", str(repo / "rules"), "--cases", str(cases), "--format", "json")
    rep = json.loads(out)
    assert rep["unreadable"] == 2 and [u["line"] for u in rep["unreadable_lines"]] == [4, 5]
    assert rep["cases"] == 3 and rep["changed"] == 0  # ≥ 150: free in both; the bad ones fail in both
    # with --ruleset, a line without one is read as that rule set
    rc, out, _ = _run(capsys, "--base", "HEAD~1", "--rules", str(repo / "rules"), "--cases", str(cases),
                      "--ruleset", "shop", "--format", "json")
    rep = json.loads(out)
    assert rep["unreadable"] == 1 and rep["cases"] == 3 and rep["changed"] == 1  # amount 1: fee 10 → 12


def test_status_transition_when_a_case_becomes_invalid(repo, tmp_path, capsys):
    (repo / "rules" / "shop.yaml").write_text(V2.replace("amount: {type: money, min: 0, required: true}",
                                                         "amount: {type: money, min: 5, required: true}"), encoding="utf-8")
    cases = _write(tmp_path, [{"ruleset": "shop", "as_of": "2026-11-25", "case": {"amount": "1.00"}}])
    rc, out, _ = _run(capsys, "--base", "HEAD", "--rules", str(repo / "rules"), "--cases", str(cases), "--format", "json")
    trans = json.loads(out)["rulesets"]["shop"]["transitions"]
    assert trans[0]["output"] == "(decision)" and (trans[0]["before"], trans[0]["after"]) == ("decided", "rejected")
    assert "amount: must be at least 5" in trans[0]["examples"][0]["after"]["detail"]


def test_parallel_and_serial_runs_give_the_same_report(repo, tmp_path):
    records = corpus(impact.PARALLEL_FROM + 700, seed=11)
    lines = [json.dumps(r) for r in records]
    with impact.BaseRules("HEAD~1", repo / "rules") as base:
        serial, _ = impact.compare(base.folder, repo / "rules", lines, jobs=1)
        parallel, _ = impact.compare(base.folder, repo / "rules", lines, jobs=2)
    a = impact.report_dict(serial, "b", "c", 0, {})
    b = impact.report_dict(parallel, "b", "c", 0, {})
    assert a == b
    changed, trans, _ = expected(records)
    assert a["changed"] == changed


def test_examples_per_transition_are_as_many_as_asked_over_many_chunks(repo, tmp_path):
    """--examples 1 over several chunks: one example per transition, the lowest case (before: the
    merge of chunks kept up to 3, from different chunks)."""
    lines = [json.dumps(r) for r in corpus(impact.PARALLEL_FROM + 700, seed=5)]
    with impact.BaseRules("HEAD~1", repo / "rules") as base:
        agg, _ = impact.compare(base.folder, repo / "rules", lines, jobs=1, examples=1)
    assert agg.examples and all(len(ex) == 1 for ex in agg.examples.values())
    assert any(total > 1 for total in agg.transitions.values())


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_progress_bar_on_a_terminal_unless_no_progress(repo, tmp_path, capsys, monkeypatch):
    args = ["impact", "--base", "HEAD~1", "--rules", str(repo / "rules"), "--cases", str(_write(tmp_path, corpus(20))),
            "--format", "json"]
    assert main(args) == 0 and capsys.readouterr().err == ""  # standard error is not a terminal
    for extra, shown in (([], True), (["--no-progress"], False)):
        terminal = _Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        assert main(args + extra) == 0
        assert ("impact:" in terminal.getvalue() and "/20 [" in terminal.getvalue()) is shown, terminal.getvalue()


def test_bad_base(repo, tmp_path, capsys):
    cases = _write(tmp_path, corpus(2))
    rc, _, err = _run(capsys, "--base", "no-such-rev", "--rules", str(repo / "rules"), "--cases", str(cases))
    assert rc == 2 and "neither a folder nor a git revision" in err
    outside = tmp_path / "plain"
    outside.mkdir()
    shutil.copy(repo / "rules" / "shop.yaml", outside)
    rc, _, err = _run(capsys, "--base", "HEAD", "--rules", str(outside), "--cases", str(cases))
    assert rc == 2 and ("not in a git repository" in err or "has no folder" in err)
    rc, _, err = _run(capsys, "--base", "HEAD", "--rules", str(repo / "rules"))
    assert rc == 2 and "give the cases" in err


def test_replay_from_the_decision_log(repo, tmp_path, capsys, monkeypatch):
    from api.decision_log import DecisionLog, LogEntry
    var = tmp_path / "var"
    monkeypatch.setenv("AFTERSALES_VAR", str(var))
    monkeypatch.delenv("AFTERSALES_DATABASE_URL", raising=False)
    with DecisionLog.open(None, var) as dlog:
        for i, (amount, day) in enumerate([("120.00", 1), ("130.00", 20), ("20.00", 21)]):
            dlog.record([LogEntry(f"id{i}", datetime(2026, 11, day, 3, tzinfo=timezone.utc), "shop", "1", "sha256:x",
                                  f"2026-11-{day:02d}T11:00:00+08:00", {"amount": amount}, {}, [], 1.0, "test")])
    rc, out, err = _run(capsys, "--base", "HEAD~1", "--rules", str(repo / "rules"), "--log", "--since", "2026-11-10",
                        "--format", "json")
    assert rc == 0, err
    rep = json.loads(out)
    assert rep["cases"] == 2  # the one of Nov 1 is before --since
    (t,) = [t for t in rep["rulesets"]["shop"]["transitions"] if t["output"] == "shipping"]
    assert (t["before"], t["after"], t["cases"]) == ("free", "paid", 1)
    assert t["examples"][0]["case_id"] == "id1" and t["examples"][0]["as_of"] == "2026-11-20T11:00:00+08:00"


@pytest.mark.parametrize("option, value, message", [
    ("--since", "9999-99-99", "expected a date-time"),
    ("--until", "0001-01-01T00:00:00+14:00", "between 1900-01-01 and 2199-12-31")])
def test_a_bad_since_or_until_exits_2_naming_the_option(repo, tmp_path, capsys, monkeypatch, option, value, message):
    monkeypatch.setenv("AFTERSALES_VAR", str(tmp_path / "var"))
    monkeypatch.delenv("AFTERSALES_DATABASE_URL", raising=False)
    rc, out, err = _run(capsys, "--base", "HEAD~1", "--rules", str(repo / "rules"), "--log", option, value)
    assert rc == 2 and out == ""
    assert f"impact: {option} {value!r}" in err and message in err and "Traceback" not in err


@pytest.mark.parametrize("name", ["warranty", "scrap_pricing", "depreciation", "sla"])
def test_impact_decides_without_explanation_as_the_api_does(books, name):
    """Impact skips the explanation (engine.tooling.impact.comparison.decide): its outputs and fired
    rules must be the API decision's, case for case."""
    from hypothesis import HealthCheck, given, settings

    from engine.errors import CaseError, DecisionConflict
    from engine.evaluation.case import read_as_of
    from engine.tooling.impact.comparison import decide
    from tests.strategies import cases, generator

    book = books["python"]
    loaded = book.get(name)

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(drawn=cases(generator(loaded)))
    def check(drawn):
        case, as_of = drawn
        got = decide(book, name, case, read_as_of(as_of.isoformat()))
        try:
            d = loaded.decide(case, as_of=as_of.isoformat())
        except (CaseError, DecisionConflict):
            assert got.status in ("rejected", "conflict")
            return
        assert (got.status, got.outputs, got.fired) == ("decided", d.to_json()["decision"],
                                                        [f["id"] for f in d.fired])

    check()
