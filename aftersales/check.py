"""`aftersales check`: everything the loader checks, then the analysis of each rule set (engine.tooling.check)."""
from __future__ import annotations

from pathlib import Path

import click

from engine.evaluation.case import read_as_of
from engine.errors import CaseError
from engine.messages import LEVELS, language_from_env, problem_text
from engine.rulebook import RuleBook

from .common import EXIT_CASE, EXIT_FAILED, EXIT_RULES, print_json


@click.command(help="load every rule set, find dead rules, overlaps and gaps; file:line: level: message")
@click.argument("rules_dir", default="rules", required=False)
@click.option("--format", "format_", type=click.Choice(("text", "json")), default="text")
@click.option("--ruleset", help="analyse only this rule set")
@click.option("--cases", type=int, help="generated cases per rule set (default 8000)")
@click.option("--as-of", help="the date the generated cases are decided on (default: today)")
@click.option("--load-only", is_flag=True, help="only what the loader checks, no analysis")
@click.option("--show-accepted", is_flag=True, help="also list the findings accepted in the YAML")
@click.option("--strict", is_flag=True, help="exit 1 on warnings too")
def check(rules_dir, format_, ruleset, cases, as_of, load_only, show_accepted, strict) -> int:
    # the tools load only for the command that uses them (start-up time)
    from engine.tooling.check import DEFAULT_BUDGET, analyse
    book = RuleBook.load(rules_dir, backend="python")
    problems = book.all_problems()
    reports = []
    if not load_only:
        try:
            moment = read_as_of(as_of) if as_of else \
                read_as_of(None).replace(hour=10, minute=0, second=0)  # deterministic within a day
        except CaseError as e:
            click.echo(f"--as-of: {' '.join(e.errors['as_of'])}", err=True)
            return EXIT_CASE
        for name, loaded in sorted(book.rulesets.items()):
            if ruleset and name != ruleset:
                continue
            reports.append(analyse(loaded.ruleset, moment, cases or DEFAULT_BUDGET, Path(rules_dir)))
    findings = [f for r in reports for f in r.findings]
    open_ = [f for f in findings if not f.accepted]
    errors = [f for f in open_ if f.level == "error"]
    if format_ == "json":
        print_json({"problems": [p.as_dict() for p in problems],
                    "findings": [f.as_dict() for f in findings],
                    "rulesets": [{k: v for k, v in r.as_dict().items() if k != "findings"} for r in reports]})
    else:
        _print_text(book, problems, reports, findings, open_, errors, show_accepted)
    if problems:
        return EXIT_RULES
    if errors or (strict and open_):
        return EXIT_FAILED
    return 0


def _print_text(book, problems, reports, findings, open_, errors, show_accepted):
    """Load problems and open findings as file:line: level: message, a line per rule set, a summary."""
    lang = language_from_env()
    for p in problems:
        click.echo(problem_text(p, lang))
    for f in sorted(open_, key=lambda f: (f.file, f.line)):
        click.echo(problem_text(f, lang))
    if show_accepted:
        for f in findings:
            if f.accepted:
                level = LEVELS[f.level] if lang == "zh" else f.level
                click.echo(problem_text(f, lang).replace(f": {level}:", f": {LEVELS['accepted'] if lang == 'zh' else 'accepted'}:", 1))
    if reports:
        click.echo()
        for r in reports:
            n_open = len(r.open)
            click.echo(f"{r.ruleset:16} {r.rules:4} rules  {r.cases:6,} cases ({r.valid:,} valid)  "
                       f"{r.fired}/{r.rules} rules fired  "
                       + (f"{n_open} finding{'s' if n_open != 1 else ''}" if n_open else "no findings")
                       + (f", {len(r.findings) - n_open} accepted" if len(r.findings) > n_open else ""))
    n_rules = sum(len(lr.ruleset.rules) for lr in book.rulesets.values())
    warnings = len(open_) - len(errors)
    summary = f"{len(book.rulesets)} rule sets, {n_rules} rules: "
    if not problems and not open_:
        summary += "no problems" if not reports else "no problems, no findings"
    else:
        parts = [f"{len(problems)} load problem{'s' if len(problems) != 1 else ''}"] if problems else []
        parts += [f"{len(errors)} error{'s' if len(errors) != 1 else ''}",
                  f"{warnings} warning{'s' if warnings != 1 else ''}"]
        summary += ", ".join(parts)
    accepted_n = len(findings) - len(open_)
    if accepted_n:
        summary += f" ({accepted_n} accepted in the YAML" + ("" if show_accepted else "; --show-accepted lists them") + ")"
    click.echo(summary)
