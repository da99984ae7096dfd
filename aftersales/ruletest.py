"""`aftersales test`: run the YAML rule tests on one or both backends and report rule coverage."""
from __future__ import annotations

import json
from pathlib import Path

import click

from engine.evaluation.backends import BACKENDS
from engine.errors import RulesError
from engine.rulebook import RuleBook

from .common import EXIT_FAILED, fail_rules


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
    results, failed = [], 0
    for t in tests:
        if t.ruleset not in first.rulesets:
            click.echo(f"{t.where}: unknown rule set {t.ruleset!r}")
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
            _print_failure(t, outcomes)
    total_hit = total = 0
    click.echo()
    for name, (hit, n, missing) in coverage(first, results).items():
        if ruleset and name != ruleset:
            continue
        total_hit, total = total_hit + hit, total + n
        pct = 100 * hit / n if n else 100
        click.echo(f"coverage {name:16} {hit:4}/{n:<4} rules fired by a test ({pct:5.1f}%)"
                   + (f"  never fired: {', '.join(missing)}" if missing else ""))
    overall = 100 * total_hit / total if total else 100
    click.echo(f"coverage overall         {total_hit:4}/{total:<4} ({overall:5.1f}%)")
    click.echo(f"{len(tests) - failed} passed, {failed} failed")
    if failed:
        return EXIT_FAILED
    if min_coverage is not None and overall < min_coverage:
        click.echo(f"coverage {overall:.1f}% is below --min-coverage {min_coverage:g}%")
        return EXIT_FAILED
    return 0


def _cell(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False, default=str)


def _print_failure(test, outcomes):
    """One failed rule test: an expected / actual table per distinct outcome."""
    click.echo(f"FAIL {test.where}  {test.ruleset}: {test.name}")
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
        who = "both engines" if len(backends) == len(outcomes) > 1 else " and ".join(backends)
        rows = [(what, _cell(exp), _cell(act)) for what, exp, act in o.diffs]
        w1 = max([len(r[0]) for r in rows] + [4]) + 2
        w2 = max([len(r[1]) for r in rows] + [8]) + 2
        click.echo(f"     {'':<{w1}}{'expected':<{w2}}actual   [{who}]")
        for what, exp, act in rows:
            click.echo(f"     {what:<{w1}}{exp:<{w2}}{act}")
        if o.fired_order:
            click.echo(f"     rules fired: {', '.join(o.fired_order)}")
