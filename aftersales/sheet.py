"""`aftersales sheet export|import`: a rule set's parameters and tables as an Excel workbook for the
policy owners, and their edits written back into the rule file (engine.tooling.workbook)."""
from __future__ import annotations

from pathlib import Path

import click

from engine.loading.compiler import compile_ruleset
from engine.loading.yamlsource import read_rule_file
from engine.messages import language_from_env
from engine.rulebook import CALENDAR_FILE, read_calendar

from .common import EXIT_CASE, read_bounded

RULES_HELP = "the rules folder (default: rules)"


def _rule_file(rules: str, ruleset: str) -> Path:
    path = Path(rules) / f"{ruleset}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in Path(rules).glob("*.yaml") if p.stem != "calendar")
        raise click.UsageError(f"no rule set {ruleset!r} in {rules}/ (has {', '.join(known) or 'none'})")
    return path


@click.group(help="export a rule set to an Excel workbook, import an edited one back into the YAML")
def sheet():
    pass


@sheet.command("export", help="write RULESET's parameters and tables to OUT.xlsx")
@click.argument("ruleset")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--rules", default="rules", help=RULES_HELP)
def export(ruleset, out, rules) -> int:
    from engine.tooling.workbook.export import export_workbook
    path = _rule_file(rules, ruleset)
    text = read_rule_file(path)
    compiled = compile_ruleset(path, read_calendar(Path(rules) / CALENDAR_FILE), text)
    data = export_workbook(text, compiled)
    Path(out).write_bytes(data)
    click.echo(f"{out}: {ruleset} {compiled.version}, {len(compiled.parameters)} parameters, "
               f"{len({r.table for r in compiled.rules if r.table})} decision tables, "
               f"{len(compiled.tables)} lookup tables ({len(data):,} bytes)")
    return 0


@sheet.command("import", help="write the edits of IN.xlsx into RULESET's YAML (comments and layout kept); "
                              "each bad cell as sheet!B7: message")
@click.argument("ruleset")
@click.argument("workbook", type=click.Path(dir_okay=False))
@click.option("--rules", default="rules", help=RULES_HELP)
@click.option("--dry-run", is_flag=True, help="print the YAML diff, do not write the file")
def import_(ruleset, workbook, rules, dry_run) -> int:
    import difflib

    from engine.tooling.workbook.import_ import (
        MAX_WORKBOOK_BYTES,
        WorkbookError,
        import_workbook,
    )
    path = _rule_file(rules, ruleset)
    text = read_rule_file(path)
    data = read_bounded(workbook, MAX_WORKBOOK_BYTES)  # a larger one is refused by import_workbook
    if data is None:
        return EXIT_CASE
    try:
        new = import_workbook(text, data, path, read_calendar(Path(rules) / CALENDAR_FILE),
                              language_from_env())
    except WorkbookError as e:
        for problem in e.problems:
            click.echo(f"{workbook}: {problem}" if "!" not in problem.split(":", 1)[0] else problem, err=True)
        return EXIT_CASE
    diff = list(difflib.unified_diff(text.splitlines(keepends=True), new.splitlines(keepends=True),
                                     str(path), str(path)))
    if dry_run:
        click.echo("".join(diff), nl=False)
    elif new != text:
        path.write_text(new, encoding="utf-8")
    removed = sum(1 for line in diff if line[:1] == "-" and line[:3] != "---")
    added = sum(1 for line in diff if line[:1] == "+" and line[:3] != "+++")
    click.echo(f"{path}: {'no changes' if not diff else f'lines -{removed} +{added}'}"
               f"{' (dry run, not written)' if dry_run and diff else ''}", err=dry_run)
    return 0
