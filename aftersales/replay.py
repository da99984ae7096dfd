"""`aftersales replay`: re-decide logged decisions with their own release and as_of (api.replay) and
report every field that comes out different — the proof that decisions are reproducible.

Reads the decision log and the releases directly from the database (AFTERSALES_DATABASE_URL, else
SQLite in AFTERSALES_VAR), as `aftersales impact --log` does; the service need not run. Entries
logged before releases existed name no release and are counted apart; an entry whose release is
gone or that its release no longer decides is a failure, like a difference (exit 1).
"""
from __future__ import annotations

import json
import os
import sys

import click

from .common import EXIT_CASE, EXIT_FAILED, print_json

MAX_LISTED = 1000
"""Differences kept and printed: a wrong release or engine makes every field of every decision
differ; the first thousand show what, the counts say how many."""


@click.command("replay", help="re-decide logged decisions with their own release and report any difference")
@click.option("--since", help="decisions made since this date or date-time")
@click.option("--until", help="decisions made before this date or date-time")
@click.option("--ruleset", help="only this rule set")
@click.option("--format", "format_", type=click.Choice(("text", "json")), default="text")
def replay(since, until, ruleset, format_) -> int:
    # with the engine and the database: loaded only for this command
    from tqdm import tqdm

    from api.decision_log import DecisionLog, DecisionLogError
    from api.jsonout import dumps
    from api.replay import NotReplayable, Replayer
    from db import Database
    from engine.tooling.impact import ImpactError
    from releases.store import ReleaseStore, StoreUnavailable

    # --since and --until read as `aftersales impact --log` reads them
    from .impact import _moment
    try:
        since_t, until_t = _moment(since, "--since"), _moment(until, "--until")
    except ImpactError as e:
        click.echo(f"replay: {e}", err=True)
        return EXIT_CASE
    url, var = os.environ.get("AFTERSALES_DATABASE_URL") or None, os.environ.get("AFTERSALES_VAR", "var")
    counts = {"replayed": 0, "identical": 0, "different": 0, "not_replayable": 0, "failed": 0,
              "differences_found": 0}
    differences, failures = [], []
    store = None
    try:
        store = ReleaseStore(Database.from_url(url, var))
        replayer = Replayer(store, os.environ.get("AFTERSALES_ENGINE", "durable"))
        with DecisionLog.open(url, var) as dlog, \
                tqdm(file=sys.stderr, leave=False, disable=None, unit=" decisions", desc="replay") as bar:
            for record in dlog.iter_entries(ruleset=ruleset, since=since_t, until=until_t):
                bar.update()
                if record.get("release") is None:
                    counts["not_replayable"] += 1
                    continue
                counts["replayed"] += 1
                try:
                    result = replayer.replay(record)
                except NotReplayable as e:  # its release is gone, or it no longer decides the case
                    counts["failed"] += 1
                    if len(failures) < MAX_LISTED:
                        failures.append({"decision_id": record["decision_id"], "reason": str(e)})
                    continue
                if result["identical"]:
                    counts["identical"] += 1
                    continue
                counts["different"] += 1
                counts["differences_found"] += len(result["differences"]) + result.get("differences_omitted", 0)
                differences += [{"decision_id": result["decision_id"], "release": result["release"], **d}
                                for d in result["differences"][:MAX_LISTED - len(differences)]]
    except (DecisionLogError, StoreUnavailable, ValueError) as e:
        click.echo(f"replay: {e}", err=True)
        return EXIT_FAILED
    finally:
        if store is not None:
            store.close()
    if format_ == "json":
        # Decimals as the API writes them
        print_json(json.loads(dumps({**counts, "differences": differences, "failures": failures})))
    else:
        click.echo(f"replayed {counts['replayed']:,} decisions: {counts['identical']:,} identical, "
                   f"{counts['different']:,} different, {counts['not_replayable']:,} not replayable "
                   "(decided before releases)"
                   + (f", {counts['failed']:,} could not be decided again" if counts["failed"] else ""))
        for d in differences:
            click.echo(f"{d['decision_id']} ({d['release']}) {d['field']}: "
                       f"{_show(d, 'logged', dumps)} → {_show(d, 'replayed', dumps)}")
        for f in failures:
            click.echo(f"{f['decision_id']}: {f['reason']}")
        if counts["differences_found"] > len(differences):
            click.echo(f"(the first {len(differences):,} of {counts['differences_found']:,} differences are listed)")
    return EXIT_FAILED if counts["different"] or counts["failed"] else 0


def _show(difference: dict, side: str, dumps) -> str:
    """One side of a difference as the API writes it; a field one side lacks is "(absent)"."""
    return dumps(difference[side]) if side in difference else "(absent)"
