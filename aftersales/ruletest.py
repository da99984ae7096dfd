"""`aftersales test`: run the YAML rule tests on one or both backends and report rule coverage."""
from __future__ import annotations

import json
from pathlib import Path

import click

from engine.evaluation.backends import BACKENDS
from engine.errors import RulesError
from engine.messages import language_from_env
from engine.rulebook import RuleBook

from .common import EXIT_FAILED, fail_rules


WORDS = {
    "en": {"unknown": "{where}: unknown rule set {name!r}",
           "coverage": "coverage {name:16} {hit:4}/{n:<4} rules fired by a test ({pct:5.1f}%)",
           "never": "  never fired: {ids}", "overall": "coverage overall         {hit:4}/{n:<4} ({pct:5.1f}%)",
           "result": "{passed} passed, {failed} failed", "below": "coverage {pct:.1f}% is below --min-coverage {min:g}%",
           "fail": "FAIL {where}  {ruleset}: {name}", "expected": "expected", "actual": "actual",
           "both": "both engines", "and": " and ", "fired": "     rules fired: {ids}"},
    "zh": {"unknown": "{where}：未知的规则集 {name!r}",
           "coverage": "覆盖 {name:16} {hit:4}/{n:<4} 条规则被测试触发过（{pct:5.1f}%）",
           "never": "  从未触发：{ids}", "overall": "覆盖 合计             {hit:4}/{n:<4}（{pct:5.1f}%）",
           "result": "{passed} 个通过，{failed} 个失败", "below": "覆盖率 {pct:.1f}% 低于 --min-coverage {min:g}%",
           "fail": "失败 {where}  {ruleset}：{name}", "expected": "期望", "actual": "实际",
           "both": "两种引擎", "and": " 和 ", "fired": "     触发的规则：{ids}"},
}
"""The command's own lines in each language (engine.messages chooses it; the tests' names, field
names and values are shown as written)."""


@click.command("test", help="run the YAML rule tests and report rule coverage")
@click.argument("rules_dir", default="rules", required=False)
@click.option("--ruleset")
@click.option("--engine", type=click.Choice(("both",) + BACKENDS), default="both")
@click.option("--min-coverage", type=float)
def test(rules_dir, ruleset, engine, min_coverage) -> int:
    from engine.tooling.ruletests import coverage, load_tests, run_test
    backends = BACKENDS if engine == "both" else (engine,)
    books = {b: RuleBook.load(rules_dir, backend=b) for b in backends}
    first = books[backends[0]]
    if first.errors:
        return fail_rules(first.all_problems())
    try:
        tests = load_tests(Path(rules_dir), ruleset)
    except RulesError as e:
        return fail_rules(e.problems)
    words = WORDS[language_from_env()]
    results, failed = [], 0
    for t in tests:
        if t.ruleset not in first.rulesets:
            click.echo(words["unknown"].format(where=t.where, name=t.ruleset))
            failed += 1
            continue
        outcomes = [run_test(books[b].get(t.ruleset), t, b) for b in backends]
        results.extend(outcomes)
        if len(outcomes) == 2 and outcomes[0].passed and outcomes[0].fired != outcomes[1].fired:
            (b0, o0), (b1, o1) = zip(backends, outcomes)
            o1.fail("rules fired", f"{b0}: {', '.join(sorted(o0.fired))}", f"{b1}: {', '.join(sorted(o1.fired))}",
                    f"backends disagree: {b0} fired {sorted(o0.fired)}, {b1} {sorted(o1.fired)}")
        if any(not o.passed for o in outcomes):
            failed += 1
            _print_failure(t, outcomes, words)
    total_hit = total = 0
    click.echo()
    for name, (hit, n, missing) in coverage(first, results).items():
        if ruleset and name != ruleset:
            continue
        total_hit, total = total_hit + hit, total + n
        pct = 100 * hit / n if n else 100
        click.echo(words["coverage"].format(name=name, hit=hit, n=n, pct=pct)
                   + (words["never"].format(ids=", ".join(missing)) if missing else ""))
    overall = 100 * total_hit / total if total else 100
    click.echo(words["overall"].format(hit=total_hit, n=total, pct=overall))
    click.echo(words["result"].format(passed=len(tests) - failed, failed=failed))
    if failed:
        return EXIT_FAILED
    if min_coverage is not None and overall < min_coverage:
        click.echo(words["below"].format(pct=overall, min=min_coverage))
        return EXIT_FAILED
    return 0


def _cell(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False, default=str)


def _print_failure(test, outcomes, words):
    """One failed rule test: an expected / actual table per distinct outcome."""
    click.echo(words["fail"].format(where=test.where, ruleset=test.ruleset, name=test.name))
    groups: list[tuple[list, list]] = []  # (backends, outcome with those diffs)
    for o in outcomes:
        if o.passed:
            continue
        same = next((g for g in groups if g[1][0].diffs == o.diffs), None)
        if same:
            same[0].append(o.backend)
        else:
            groups.append(([o.backend], [o]))
    for backends, (o,) in groups:
        who = words["both"] if len(backends) == len(outcomes) > 1 else words["and"].join(backends)
        rows = [(what, _cell(exp), _cell(act)) for what, exp, act in o.diffs]
        w1 = max([len(r[0]) for r in rows] + [4]) + 2
        w2 = max([len(r[1]) for r in rows] + [8]) + 2
        click.echo(f"     {'':<{w1}}{words['expected']:<{w2}}{words['actual']}   [{who}]")
        for what, exp, act in rows:
            click.echo(f"     {what:<{w1}}{exp:<{w2}}{act}")
        if o.fired_order:
            click.echo(words["fired"].format(ids=", ".join(o.fired_order)))
