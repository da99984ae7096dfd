"""`aftersales eval`, `explain` and `rulesets`: decide one case, explain it, list the rule sets."""
from __future__ import annotations

import click

from engine.evaluation.backends import BACKENDS
from engine.evaluation.case import read_as_of
from engine.errors import CaseError, DecisionConflict
from engine.rulebook import RuleBook

from .common import AS_OF_HELP, CASE_HELP, EXIT_CASE, EXIT_RULES, case_for, decision_failed, print_json

RULES_HELP = "rules folder (default: rules)"


@click.command("eval", help="decide one case and print the decision as JSON", epilog=CASE_HELP)
@click.argument("ruleset")
@click.argument("case")
@click.option("--as-of", help=AS_OF_HELP)
@click.option("--explain", type=click.Choice(("fired", "full")), default="fired")
@click.option("--rules", default="rules", help=RULES_HELP)
@click.option("--engine", type=click.Choice(BACKENDS), default="durable")
def eval_(ruleset, case, as_of, explain, rules, engine) -> int:
    book = RuleBook.load(rules, backend=engine)
    data, failed = case_for(book, ruleset, case)
    if failed is not None:
        return failed
    try:
        decision = book.decide(ruleset, data, as_of=as_of, explain=explain)
    except (CaseError, DecisionConflict) as e:
        return decision_failed(e)
    print_json(decision.to_json())
    return 0


@click.command(help="list the loaded rule sets")
@click.option("--rules", default="rules")
def rulesets(rules) -> int:
    book = RuleBook.load(rules, backend="durable")
    for name, loaded in sorted(book.rulesets.items()):
        rs = loaded.ruleset
        click.echo(f"{name:16} {rs.version:10} {len(rs.rules):4} rules  {rs.digest[:19]}  {rs.title}")
    for name, err in sorted(book.errors.items()):
        click.echo(f"{name:16} FAILED TO LOAD ({len(err.problems)} problems)")
        for p in err.problems:
            click.echo(f"    {p}")
    return EXIT_RULES if book.errors else 0


@click.command(help="explain a decision; --why-not RULE: that rule's conditions on this case", epilog=CASE_HELP)
@click.argument("ruleset")
@click.argument("case")
@click.option("--why-not", metavar="RULE_ID")
@click.option("--as-of", help=AS_OF_HELP)
@click.option("--rules", default="rules", help=RULES_HELP)
@click.option("--format", "format_", type=click.Choice(("text", "json")), default="text",
              help="for --why-not (default text)")
def explain(ruleset, case, why_not, as_of, rules, format_) -> int:
    from engine.tooling import whynot  # the tools load only for the command that uses them (start-up time)
    book = RuleBook.load(rules, backend="python" if why_not else "durable")
    data, failed = case_for(book, ruleset, case)
    if failed is not None:
        return failed
    try:
        if not why_not:
            print_json(book.decide(ruleset, data, as_of=as_of, explain="full").to_json())
            return 0
        w = whynot.why_not(book.get(ruleset).ruleset, data, read_as_of(as_of), why_not)
    except (CaseError, DecisionConflict) as e:
        return decision_failed(e)
    except whynot.UnknownRule as e:
        click.echo(e.args[0], err=True)
        return EXIT_CASE
    if format_ == "json":
        print_json(w)
    else:
        click.echo(whynot.format_text(w))
    return 0

