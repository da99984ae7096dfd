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
            click.echo(_ruleset_line(r, lang))
    n_rules = sum(len(lr.ruleset.rules) for lr in book.rulesets.values())
    click.echo(_summary(len(book.rulesets), n_rules, len(problems), len(errors), len(open_) - len(errors),
                        len(findings) - len(open_), bool(reports), show_accepted, lang))


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _ruleset_line(r, lang: str) -> str:
    """A rule set's line under the findings: rules, cases, coverage, findings open and accepted."""
    n_open, accepted = len(r.open), len(r.findings) - len(r.open)
    if lang == "zh":
        return (f"{r.ruleset:16} {r.rules:4} 条规则  {r.cases:6,} 个案例（有效 {r.valid:,} 个）  "
                f"触发过的规则 {r.fired}/{r.rules}  " + (f"{n_open} 项发现" if n_open else "没有发现")
                + (f"，{accepted} 项已接受" if accepted else ""))
    return (f"{r.ruleset:16} {r.rules:4} rules  {r.cases:6,} cases ({r.valid:,} valid)  {r.fired}/{r.rules} rules fired  "
            + (_count(n_open, "finding") if n_open else "no findings") + (f", {accepted} accepted" if accepted else ""))


def _summary(rulesets: int, rules: int, problems: int, errors: int, warnings: int, accepted: int, analysed: bool,
             show_accepted: bool, lang: str) -> str:
    """The last line: what was loaded and, in one phrase, what is wrong with it."""
    if lang == "zh":
        out = f"{rulesets} 个规则集，{rules} 条规则："
        if not problems and not errors and not warnings:
            out += "没有问题，没有发现" if analysed else "没有问题"
        else:
            out += "，".join(([f"{problems} 个加载问题"] if problems else []) + [f"{errors} 个错误", f"{warnings} 个警告"])
        if accepted:
            out += f"（YAML 中已接受 {accepted} 项" + ("" if show_accepted else "；--show-accepted 列出它们") + "）"
        return out
    out = f"{rulesets} rule sets, {rules} rules: "
    if not problems and not errors and not warnings:
        out += "no problems, no findings" if analysed else "no problems"
    else:
        out += ", ".join(([_count(problems, "load problem")] if problems else [])
                         + [_count(errors, "error"), _count(warnings, "warning")])
    if accepted:
        out += f" ({accepted} accepted in the YAML" + ("" if show_accepted else "; --show-accepted lists them") + ")"
    return out
