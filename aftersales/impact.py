"""`aftersales impact`: which past decisions an edit of the rules changes (engine.tooling.impact).

The cases come from a JSON Lines file or from the decision log of the API (api.decision_log),
which this layer opens and hands to the comparison as lines.
"""
from __future__ import annotations

import os
import time
from datetime import datetime
from datetime import time as dtime
from pathlib import Path

import click

from engine.evaluation.case import read_as_of
from engine.errors import CaseError
from engine.types import CHINA

from .common import EXIT_CASE, EXIT_RULES, print_json


@click.command("impact", help="which past decisions an edit of the rules changes")
@click.option("--base", required=True,
              help="the rules to compare with: a git revision (e.g. HEAD, main~3) or a folder")
@click.option("--rules", default="rules", help="the current rules folder (default: rules)")
@click.option("--cases", help="JSON Lines: {\"ruleset\": …, \"case\": {…}, \"as_of\": …} per line")
@click.option("--log", is_flag=True,
              help="replay the decision log (AFTERSALES_DATABASE_URL or var/decisions.db)")
@click.option("--since", help="with --log: decisions made since this date or date-time")
@click.option("--until", help="with --log: decisions made before this date or date-time")
@click.option("--ruleset", help="only this rule set (and the rule set of lines that name none)")
@click.option("--as-of", help="as_of for lines without one (default: now)")
@click.option("--format", "format_", type=click.Choice(("text", "json")), default="text")
@click.option("--examples", type=int, default=3, help="example cases per transition (default 3)")
@click.option("--jobs", type=int, help="worker processes (default: all cores, from 2,000 cases)")
@click.option("--no-progress", is_flag=True, help="no progress bar, even on a terminal")
def impact_(base, rules, cases, log, since, until, ruleset, as_of, format_, examples, jobs, no_progress) -> int:
    """Decide the same cases under the base rules and the current ones."""
    from engine.tooling import impact  # with tqdm and the process pool: loaded only for this command
    if log and cases:
        click.echo("impact: give --cases FILE or --log, not both", err=True)
        return EXIT_CASE
    if not log and not cases:
        click.echo("impact: give the cases: --cases FILE.jsonl, or --log --since DATE", err=True)
        return EXIT_CASE
    try:
        lines = _log_lines(since, until, ruleset) if log else impact.read_jsonl(cases)
        with impact.BaseRules(base, Path(rules)) as base_rules:
            t0 = time.perf_counter()
            agg, problems = impact.compare(base_rules.folder, Path(rules), lines, ruleset, as_of, jobs, examples,
                                           progress=not no_progress)
            rep = impact.report_dict(agg, base_rules.label, f"rules in {rules}", time.perf_counter() - t0, problems)
    except impact.ImpactError as e:
        click.echo(f"impact: {e}", err=True)
        return EXIT_CASE
    if format_ == "json":
        print_json(rep)
    else:
        click.echo(impact.format_text(rep, examples))
    if problems["current"]:
        click.echo(f"impact: the current rules do not all load ({len(problems['current'])} problems)", err=True)
        return EXIT_RULES
    return 0


def _log_lines(since, until, ruleset) -> list[str]:
    """The decision log (AFTERSALES_DATABASE_URL, else SQLite in AFTERSALES_VAR) as JSON Lines."""
    from engine.tooling import impact
    try:
        from api.decision_log import DecisionLog, DecisionLogError
    except ImportError as e:
        raise impact.ImpactError(f"the decision log is not available: {e}") from None
    try:
        with DecisionLog.open(os.environ.get("AFTERSALES_DATABASE_URL") or None,
                              os.environ.get("AFTERSALES_VAR", "var")) as dlog:
            return impact.log_lines(dlog.iter_entries(ruleset=ruleset, since=_moment(since, "--since"), until=_moment(until, "--until")))
    except DecisionLogError as e:
        raise impact.ImpactError(f"decision log: {e}") from None


def _moment(value, option: str):
    """--since / --until: a date-time as given, a date at midnight China time."""
    from engine.tooling import impact
    if value is None:
        return None
    try:
        d = read_as_of(value)
    except CaseError as e:
        raise impact.ImpactError(f"{option} {value!r}: {'; '.join(e.errors['as_of'])}") from None
    return d if "T" in str(value) else datetime.combine(d.date(), dtime(0), CHINA)
