"""`aftersales impact`: which past decisions an edit of the rules changes (engine.tooling.impact).

The cases come from a JSON Lines file, a folder of them, or the decision log of the API
(api.decision_log), which this layer opens and hands to the comparison as lines. Either side of the
comparison is a folder, a git revision or a release (rN, read from the release store). The
comparison runs here (`--engine local`) or on a Ray cluster (`--engine ray`,
engine.tooling.impact.distributed), with the same report.
"""
from __future__ import annotations

import os
import re
import time
from contextlib import contextmanager
from datetime import datetime
from datetime import time as dtime
from itertools import islice
from pathlib import Path

import click

from engine.errors import CaseError
from engine.evaluation.case import read_as_of
from engine.types import CHINA

from .common import EXIT_CASE, EXIT_RULES, print_json

RELEASE_ID = re.compile(r"r[0-9]{1,9}")
"""A release of the store (releases.store names them r1, r2, …), unless a folder has that name."""
LOG_BLOCK = 2000
"""Decision-log entries turned into lines at a time: `--engine ray` streams them to the cluster."""


@click.command("impact", help="which past decisions an edit of the rules changes")
@click.option("--base", required=True,
              help="the rules to compare with: a git revision (e.g. HEAD, main~3), a folder or a release (r3)")
@click.option("--against", help="the rules to compare: a git revision, a folder or a release (default: --rules)")
@click.option("--rules", default="rules", help="the current rules folder, in git for revisions (default: rules)")
@click.option("--cases", help="JSON Lines: {\"ruleset\": …, \"case\": {…}, \"as_of\": …} per line; "
                              "or a folder: its *.jsonl files in name order, lines numbered across them")
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
@click.option("--engine", type=click.Choice(("local", "ray")), default="local",
              help="local: this machine's cores (default); ray: a Ray cluster")
@click.option("--address", help="with --engine ray: the cluster (host:port of its head, ray://host:10001, auto); "
                                "default: a Ray started for this run")
def impact_(base, against, rules, cases, log, since, until, ruleset, as_of, format_, examples, jobs, no_progress,
            engine, address) -> int:
    """Decide the same cases under the base rules and the current ones."""
    from engine.tooling import (
        impact,  # with tqdm and the process pool: loaded only for this command
    )
    if log and cases:
        click.echo("impact: give --cases FILE or --log, not both", err=True)
        return EXIT_CASE
    if not log and not cases:
        click.echo("impact: give the cases: --cases FILE.jsonl, or --log --since DATE", err=True)
        return EXIT_CASE
    if address and engine != "ray":
        click.echo("impact: --address is for --engine ray", err=True)
        return EXIT_CASE
    try:
        lines = _log_lines(since, until, ruleset) if log else _case_lines(cases)
        with _rules(base, rules, "--base") as (base_dir, base_label), \
                _rules(against, rules, "--against") as (current_dir, current_label):
            t0 = time.perf_counter()
            if engine == "ray":
                from engine.tooling.impact import (
                    distributed,  # Ray: imported only for this engine
                )
                agg, problems = distributed.compare(base_dir, current_dir, lines, ruleset, as_of, examples,
                                                    address, progress=not no_progress)
            else:
                agg, problems = impact.compare(base_dir, current_dir, list(lines), ruleset, as_of, jobs, examples,
                                               progress=not no_progress)
            rep = impact.report_dict(agg, base_label, current_label, time.perf_counter() - t0, problems)
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


@contextmanager
def _rules(spec, rules, option):
    """The folder and label of one side: --against absent is the --rules folder; a release id is
    exported from the release store into a temporary folder; else a folder or a git revision."""
    from engine.tooling import impact
    if spec is None:
        yield Path(rules), f"rules in {rules}"
    elif RELEASE_ID.fullmatch(spec) and not Path(spec).is_dir():
        from releases.snapshot import materialized
        snap = _release_snapshot(spec, option)
        with materialized(snap) as folder:
            yield folder, f"release {spec} ({snap.digest[:19]})"
    else:
        with impact.BaseRules(spec, Path(rules), option) as side:
            yield side.folder, side.label


def _release_snapshot(rid, option):
    """A release's files, from the store in the database `aftersales replay` reads."""
    from db import Database
    from engine.tooling.impact import ImpactError
    from releases.governance import Governance, WorkflowError
    from releases.store import ReleaseStore, StoreUnavailable
    store = None
    try:
        store = ReleaseStore(Database.from_url(os.environ.get("AFTERSALES_DATABASE_URL") or None,
                                               os.environ.get("AFTERSALES_VAR", "var")))
        return Governance(store).snapshot(rid)
    except WorkflowError as e:
        raise ImpactError(f"{option} {rid}: {e.message}") from None
    except (StoreUnavailable, ValueError) as e:
        raise ImpactError(f"{option} {rid}: {e}") from None
    finally:
        if store is not None:
            store.close()


def _case_lines(cases):
    """--cases: a JSON Lines file, or a folder whose *.jsonl files are read one after the other
    (one file in memory at a time)."""
    from engine.tooling import impact
    path = Path(cases)
    if not path.is_dir():
        return impact.read_jsonl(cases)
    files = sorted(path.glob("*.jsonl"))
    if not files:
        raise impact.ImpactError(f"--cases {cases}: a folder without *.jsonl files")
    return (line for f in files for line in impact.read_jsonl(str(f)))


def _log_lines(since, until, ruleset):
    """The decision log (AFTERSALES_DATABASE_URL, else SQLite in AFTERSALES_VAR) as JSON Lines,
    read LOG_BLOCK entries at a time as they are consumed."""
    since_t, until_t = _moment(since, "--since"), _moment(until, "--until")
    return _log_entries(since_t, until_t, ruleset)


def _log_entries(since_t, until_t, ruleset):
    from engine.tooling import impact
    try:
        from api.decision_log import DecisionLog, DecisionLogError
    except ImportError as e:
        raise impact.ImpactError(f"the decision log is not available: {e}") from None
    try:
        with DecisionLog.open(os.environ.get("AFTERSALES_DATABASE_URL") or None,
                              os.environ.get("AFTERSALES_VAR", "var")) as dlog:
            entries = dlog.iter_entries(ruleset=ruleset, since=since_t, until=until_t)
            while rows := list(islice(entries, LOG_BLOCK)):
                yield from impact.log_lines(rows)
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
