"""What the commands share: exit codes, reading a case file, printing why a case was not decided."""
from __future__ import annotations

import json
import sys

import click

from engine.evaluation.case import JsonInputError, load_json
from engine.errors import CaseError, DecisionConflict
from engine.messages import language_from_env, problem_text

EXIT_FAILED, EXIT_CASE, EXIT_RULES = 1, 2, 3
MAX_CASE_BYTES = 1024 * 1024
"""A case file holds one case, a few dozen fields each bounded by engine.types: a larger file is
refused unread (the API's default body limit, which a whole batch must fit)."""

AS_OF_HELP = "date or date-time the decision is made for (default: now, China time)"
CASE_HELP = "CASE: a JSON file with the case fields, or - for standard input."


def print_json(obj):
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


def fail_rules(problems) -> int:
    """Print each rule-file problem in the language of the environment (engine.messages); exit 3."""
    lang = language_from_env()
    for p in problems:
        click.echo(problem_text(p, lang), err=True)
    return EXIT_RULES


def read_bounded(path: str, limit: int) -> bytes | None:
    """At most limit + 1 bytes of a file or standard input (-), so the caller can tell an over-long
    input without reading it whole; None, said on standard error, when it cannot be read."""
    try:
        if path == "-":
            return sys.stdin.buffer.read(limit + 1)
        with open(path, "rb") as f:
            return f.read(limit + 1)
    except OSError as e:
        click.echo(f"{path}: cannot read: {e.strerror or e}", err=True)
        return None


def read_case(path: str):
    """The case JSON from a file or standard input (-); an exit code when it cannot be read."""
    data = read_bounded(path, MAX_CASE_BYTES)
    if data is None:
        return EXIT_CASE
    if len(data) > MAX_CASE_BYTES:
        click.echo(f"{path}: larger than {MAX_CASE_BYTES:,} bytes: not one case", err=True)
        return EXIT_CASE
    try:
        return load_json(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        click.echo(f"{path}: not UTF-8 text (byte {e.start + 1})", err=True)
    except JsonInputError as e:
        where = f":{e.where[0]}:{e.where[1]}" if e.where else ""
        click.echo(f"{path}{where}: not valid JSON: {e.message}", err=True)
    except CaseError as e:
        decision_failed(e)
    return EXIT_CASE


def case_for(book, ruleset: str, path: str):
    """(the case in `path` for a loaded `ruleset`, None) — or (None, the exit code)."""
    if ruleset in book.errors:
        return None, fail_rules(book.errors[ruleset].problems)
    if ruleset not in book.rulesets:
        click.echo(f"unknown rule set {ruleset!r}; loaded: {', '.join(book.rulesets) or 'none'}", err=True)
        return None, EXIT_CASE
    case = read_case(path)
    return (None, case) if isinstance(case, int) else (case, None)


def decision_failed(e) -> int:
    """Print why a case could not be decided: each bad field (exit 2), or the rule conflict (exit 3)."""
    if isinstance(e, DecisionConflict):
        click.echo(f"rule conflict: {e}", err=True)
        return EXIT_RULES
    for fld, messages in e.errors.items():
        for m in messages:
            click.echo(f"{fld}: {m}", err=True)
    return EXIT_CASE
