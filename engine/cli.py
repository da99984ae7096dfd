"""`aftersales`: evaluate cases, list rule sets, run rule tests, check rule files, measure the
impact of an edit, explain why a rule did not decide.

Exit codes: 0 fine, 1 tests failed / findings, 2 invalid case, 3 rules error.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .backends import BACKENDS
from .case import JsonInputError, load_json
from .errors import CaseError, DecisionConflict, RulesError
from .rulebook import RuleBook

EXIT_FAILED, EXIT_CASE, EXIT_RULES = 1, 2, 3
MAX_CASE_BYTES = 1024 * 1024
"""A case file holds one case, a few dozen fields each bounded by engine.types: a larger file is
refused unread (the API's default body limit, which a whole batch must fit)."""


def _print_json(obj):
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def _load(args) -> RuleBook:
    return RuleBook.load(args.rules, backend=getattr(args, "engine", "durable"))


def _fail_rules(problems) -> int:
    for p in problems:
        print(p, file=sys.stderr)
    return EXIT_RULES


def _read_case(path: str):
    """The case JSON from a file or standard input (-); an exit code when it cannot be read."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_CASE_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_CASE_BYTES + 1)
    except OSError as e:
        print(f"{path}: cannot read: {e.strerror}", file=sys.stderr)
        return EXIT_CASE
    if len(data) > MAX_CASE_BYTES:
        print(f"{path}: larger than {MAX_CASE_BYTES:,} bytes: not one case", file=sys.stderr)
        return EXIT_CASE
    try:
        return load_json(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        print(f"{path}: not UTF-8 text (byte {e.start + 1})", file=sys.stderr)
    except JsonInputError as e:
        where = f":{e.where[0]}:{e.where[1]}" if e.where else ""
        print(f"{path}{where}: not valid JSON: {e.message}", file=sys.stderr)
    except CaseError as e:
        _decision_failed(e)
    return EXIT_CASE


def _case_for(book, args):
    """(the case of args.case for a loaded args.ruleset, None) — or (None, the exit code)."""
    if args.ruleset in book.errors:
        return None, _fail_rules(book.errors[args.ruleset].problems)
    if args.ruleset not in book.rulesets:
        print(f"unknown rule set {args.ruleset!r}; loaded: {', '.join(book.rulesets) or 'none'}", file=sys.stderr)
        return None, EXIT_CASE
    case = _read_case(args.case)
    return (None, case) if isinstance(case, int) else (case, None)


def _decision_failed(e) -> int:
    """Print why a case could not be decided: each bad field (exit 2), or the rule conflict (exit 3)."""
    if isinstance(e, DecisionConflict):
        print(f"rule conflict: {e}", file=sys.stderr)
        return EXIT_RULES
    for fld, messages in e.errors.items():
        for m in messages:
            print(f"{fld}: {m}", file=sys.stderr)
    return EXIT_CASE


def cmd_eval(args) -> int:
    book = _load(args)
    case, failed = _case_for(book, args)
    if failed is not None:
        return failed
    try:
        decision = book.decide(args.ruleset, case, as_of=args.as_of, explain=args.explain)
    except (CaseError, DecisionConflict) as e:
        return _decision_failed(e)
    _print_json(decision.to_json())
    return 0


def cmd_rulesets(args) -> int:
    book = _load(args)
    for name, loaded in sorted(book.rulesets.items()):
        rs = loaded.ruleset
        print(f"{name:16} {rs.version:10} {len(rs.rules):4} rules  {rs.digest[:19]}  {rs.title}")
    for name, err in sorted(book.errors.items()):
        print(f"{name:16} FAILED TO LOAD ({len(err.problems)} problems)")
        for p in err.problems:
            print(f"    {p}")
    return EXIT_RULES if book.errors else 0


def cmd_check(args) -> int:
    """Everything the loader checks, then the analysis of each rule set (engine.analysis)."""
    from .analysis import DEFAULT_BUDGET, analyse
    from .case import read_as_of
    book = RuleBook.load(args.rules_dir, backend="python")
    problems = book.all_problems()
    reports = []
    if not args.load_only:
        try:
            as_of = read_as_of(args.as_of) if args.as_of else \
                read_as_of(None).replace(hour=10, minute=0, second=0)  # deterministic within a day
        except CaseError as e:
            print(f"--as-of: {' '.join(e.errors['as_of'])}", file=sys.stderr)
            return EXIT_CASE
        for name, loaded in sorted(book.rulesets.items()):
            if args.ruleset and name != args.ruleset:
                continue
            reports.append(analyse(loaded.ruleset, as_of, args.cases or DEFAULT_BUDGET, Path(args.rules_dir)))
    findings = [f for r in reports for f in r.findings]
    open_ = [f for f in findings if not f.accepted]
    errors = [f for f in open_ if f.level == "error"]
    if args.format == "json":
        _print_json({"problems": [p.as_dict() for p in problems],
                     "findings": [f.as_dict() for f in findings],
                     "rulesets": [{k: v for k, v in r.as_dict().items() if k != "findings"} for r in reports]})
    else:
        for p in problems:
            print(p)
        for f in sorted(open_, key=lambda f: (f.file, f.line)):
            print(f)
        accepted = [f for f in findings if f.accepted]
        if args.show_accepted:
            for f in accepted:
                print(str(f).replace(f": {f.level}:", ": accepted:", 1))
        if reports:
            print()
            for r in reports:
                n_open = len(r.open)
                print(f"{r.ruleset:16} {r.rules:4} rules  {r.cases:6,} cases ({r.valid:,} valid)  "
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
            parts += [f"{len(errors)} error{'s' if len(errors) != 1 else ''}", f"{warnings} warning{'s' if warnings != 1 else ''}"]
            summary += ", ".join(parts)
        accepted_n = len(findings) - len(open_)
        if accepted_n:
            summary += f" ({accepted_n} accepted in the YAML" + ("" if args.show_accepted else "; --show-accepted lists them") + ")"
        print(summary)
    if problems:
        return EXIT_RULES
    if errors or (args.strict and open_):
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
    print(f"FAIL {test.where}  {test.ruleset}: {test.name}")
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
        print(f"     {'':<{w1}}{'expected':<{w2}}actual   [{who}]")
        for what, exp, act in rows:
            print(f"     {what:<{w1}}{exp:<{w2}}{act}")
        if o.fired_order:
            print(f"     rules fired: {', '.join(o.fired_order)}")


def cmd_test(args) -> int:
    from .ruletests import coverage, load_tests, run_test
    backends = BACKENDS if args.engine == "both" else (args.engine,)
    books = {b: RuleBook.load(args.rules_dir, backend=b) for b in backends}
    first = books[backends[0]]
    if first.errors:
        return _fail_rules(first.all_problems())
    try:
        tests = load_tests(Path(args.rules_dir), args.ruleset)
    except RulesError as e:
        return _fail_rules(e.problems)
    results, failed = [], 0
    for test in tests:
        if test.ruleset not in first.rulesets:
            print(f"{test.where}: unknown rule set {test.ruleset!r}")
            failed += 1
            continue
        outcomes = [run_test(books[b].get(test.ruleset), test, b) for b in backends]
        results.extend(outcomes)
        if len(outcomes) == 2 and outcomes[0].passed and outcomes[0].fired != outcomes[1].fired:
            outcomes[1].fail("rules fired", f"durable: {', '.join(sorted(outcomes[0].fired))}",
                             f"python: {', '.join(sorted(outcomes[1].fired))}",
                             f"backends disagree: durable fired {sorted(outcomes[0].fired)}, python {sorted(outcomes[1].fired)}")
        if any(not o.passed for o in outcomes):
            failed += 1
            _print_failure(test, outcomes)
    cov = coverage(first, results)
    total_hit = total = 0
    print()
    for name, (hit, n, missing) in cov.items():
        if args.ruleset and name != args.ruleset:
            continue
        total_hit, total = total_hit + hit, total + n
        pct = 100 * hit / n if n else 100
        print(f"coverage {name:16} {hit:4}/{n:<4} rules fired by a test ({pct:5.1f}%)"
              + (f"  never fired: {', '.join(missing)}" if missing else ""))
    overall = 100 * total_hit / total if total else 100
    print(f"coverage overall         {total_hit:4}/{total:<4} ({overall:5.1f}%)")
    print(f"{len(tests) - failed} passed, {failed} failed")
    if failed:
        return EXIT_FAILED
    if args.min_coverage is not None and overall < args.min_coverage:
        print(f"coverage {overall:.1f}% is below --min-coverage {args.min_coverage:g}%")
        return EXIT_FAILED
    return 0


def cmd_impact(args) -> int:
    """Decide the same cases under the base rules and the current ones (engine.impact)."""
    import time
    from . import impact
    if args.log and args.cases:
        print("impact: give --cases FILE or --log, not both", file=sys.stderr)
        return EXIT_CASE
    if not args.log and not args.cases:
        print("impact: give the cases: --cases FILE.jsonl, or --log --since DATE", file=sys.stderr)
        return EXIT_CASE
    try:
        lines = impact.log_lines(args.since, args.until, args.ruleset) if args.log else impact.read_jsonl(args.cases)
        with impact.BaseRules(args.base, Path(args.rules)) as base:
            t0 = time.perf_counter()
            bar = impact.ProgressBar() if not args.no_progress else None
            try:
                agg, problems = impact.compare(base.folder, Path(args.rules), lines, args.ruleset, args.as_of,
                                               args.jobs, args.examples, bar)
            finally:
                if bar:
                    bar.close()
            rep = impact.report_dict(agg, base.label, f"rules in {args.rules}", time.perf_counter() - t0, problems)
    except impact.ImpactError as e:
        print(f"impact: {e}", file=sys.stderr)
        return EXIT_CASE
    if args.format == "json":
        _print_json(rep)
    else:
        print(impact.format_text(rep, args.examples))
    if problems["current"]:
        print(f"impact: the current rules do not all load ({len(problems['current'])} problems)", file=sys.stderr)
        return EXIT_RULES
    return 0


def cmd_explain(args) -> int:
    """Explain a decision; with --why-not, one rule's conditions on this case (engine.whynot)."""
    from .whynot import UnknownRule, format_text, why_not
    book = RuleBook.load(args.rules, backend="python" if args.why_not else getattr(args, "engine", "durable"))
    case, failed = _case_for(book, args)
    if failed is not None:
        return failed
    try:
        if not args.why_not:
            _print_json(book.decide(args.ruleset, case, as_of=args.as_of, explain="full").to_json())
            return 0
        from .case import read_as_of
        w = why_not(book.get(args.ruleset).ruleset, case, read_as_of(args.as_of), args.why_not)
    except (CaseError, DecisionConflict) as e:
        return _decision_failed(e)
    except UnknownRule as e:
        print(e.args[0], file=sys.stderr)
        return EXIT_CASE
    if args.format == "json":
        _print_json(w)
    else:
        print(format_text(w))
    return 0


def cmd_serve(args) -> int:
    # prometheus-client picks its multiprocess mode when the metrics are created, i.e. when
    # the api package is imported: the folder must be set before that import.
    import os
    import shutil
    metrics_dir = Path(os.environ.get("AFTERSALES_VAR", "var")) / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    from api.serve import serve  # the HTTP layer sits on top of the engine; only this command needs it
    return serve(args.host, args.port, args.workers)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aftersales", description="After-sales decisions from YAML rule sets")
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("eval", help="decide one case and print the decision as JSON")
    e.add_argument("ruleset")
    e.add_argument("case", help="a JSON file with the case fields, or - for standard input")
    e.add_argument("--as-of", dest="as_of", help="date or date-time the decision is made for (default: now, China time)")
    e.add_argument("--explain", choices=("fired", "full"), default="fired")
    e.add_argument("--rules", default="rules", help="rules folder (default: rules)")
    e.add_argument("--engine", choices=BACKENDS, default="durable")
    e.set_defaults(fn=cmd_eval)

    r = sub.add_parser("rulesets", help="list the loaded rule sets")
    r.add_argument("--rules", default="rules")
    r.set_defaults(fn=cmd_rulesets)

    c = sub.add_parser("check", help="load every rule set, find dead rules, overlaps and gaps; "
                                     "file:line: level: message")
    c.add_argument("rules_dir", nargs="?", default="rules")
    c.add_argument("--format", choices=("text", "json"), default="text")
    c.add_argument("--ruleset", help="analyse only this rule set")
    c.add_argument("--cases", type=int, help="generated cases per rule set (default 8000)")
    c.add_argument("--as-of", dest="as_of", help="the date the generated cases are decided on (default: today)")
    c.add_argument("--load-only", action="store_true", help="only what the loader checks, no analysis")
    c.add_argument("--show-accepted", action="store_true", help="also list the findings accepted in the YAML")
    c.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    c.set_defaults(fn=cmd_check)

    t = sub.add_parser("test", help="run the YAML rule tests and report rule coverage")
    t.add_argument("rules_dir", nargs="?", default="rules")
    t.add_argument("--ruleset")
    t.add_argument("--engine", choices=("both",) + BACKENDS, default="both")
    t.add_argument("--min-coverage", type=float, dest="min_coverage")
    t.set_defaults(fn=cmd_test)

    i = sub.add_parser("impact", help="which past decisions an edit of the rules changes")
    i.add_argument("--base", required=True, help="the rules to compare with: a git revision (e.g. HEAD, main~3) or a folder")
    i.add_argument("--rules", default="rules", help="the current rules folder (default: rules)")
    i.add_argument("--cases", help="JSON Lines: {\"ruleset\": …, \"case\": {…}, \"as_of\": …} per line")
    i.add_argument("--log", action="store_true", help="replay the decision log (AFTERSALES_DATABASE_URL or var/decisions.db)")
    i.add_argument("--since", help="with --log: decisions made since this date or date-time")
    i.add_argument("--until", help="with --log: decisions made before this date or date-time")
    i.add_argument("--ruleset", help="only this rule set (and the rule set of lines that name none)")
    i.add_argument("--as-of", dest="as_of", help="as_of for lines without one (default: now)")
    i.add_argument("--format", choices=("text", "json"), default="text")
    i.add_argument("--examples", type=int, default=3, help="example cases per transition (default 3)")
    i.add_argument("--jobs", type=int, help="worker processes (default: all cores, from 2,000 cases)")
    i.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    i.set_defaults(fn=cmd_impact)

    x = sub.add_parser("explain", help="explain a decision; --why-not RULE: that rule's conditions on this case")
    x.add_argument("ruleset")
    x.add_argument("case", help="a JSON file with the case fields, or - for standard input")
    x.add_argument("--why-not", dest="why_not", metavar="RULE_ID")
    x.add_argument("--as-of", dest="as_of", help="date or date-time the decision is made for (default: now, China time)")
    x.add_argument("--rules", default="rules", help="rules folder (default: rules)")
    x.add_argument("--format", choices=("text", "json"), default="text", help="for --why-not (default text)")
    x.set_defaults(fn=cmd_explain)
    sv = sub.add_parser("serve", help="run the decision API (gunicorn, one durable-rules host per worker)")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8080)
    sv.add_argument("--workers", type=int, default=2)
    sv.set_defaults(fn=cmd_serve)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except RulesError as e:
        return _fail_rules(e.problems)
    except BrokenPipeError:  # `aftersales eval … | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
