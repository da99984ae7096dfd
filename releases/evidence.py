"""The evidence attached to a release at submit: does it load, what `check` finds, do its rule
tests pass (with coverage), and which logged decisions it would change against the active release.

`gather` runs the engine's tools on a snapshot — the same ones the CLI runs on a folder
(engine.tooling.check, engine.tooling.ruletests, engine.tooling.impact) — and returns their
reports as one JSON-ready dict (text, whole numbers, booleans, lists and dicts; money as text),
which the store keeps with the release. Nothing in it raises for bad rules or bad cases: they
become problems, failures and refused cases in the reports. File names are the snapshot's own
(`scrap_pricing.yaml:12`, `tests/sla/status.yaml:40`), never the temporary folder's.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path

from engine.errors import RulesError
from engine.evaluation.backends import BACKENDS
from engine.evaluation.case import read_as_of
from engine.rulebook import RuleBook
from engine.tooling.check import DEFAULT_BUDGET, analyse
from engine.tooling.impact import EXAMPLES, Aggregate, log_lines, report_dict
from engine.tooling.impact.comparison import Comparer
from engine.tooling.ruletests import coverage, load_tests, run_test

from .snapshot import Compiled, Snapshot, compile_snapshot, materialized

MAX_IMPACT_CASES = 50_000
"""Logged decisions compared at submit (the most recent ones): each is decided twice, about 7,000
cases a second on one core, so the impact stays within seconds and its lines (a few hundred bytes
each) within tens of megabytes, whatever the decision log holds for the chosen days."""
PROGRESS_EVERY = 500
"""Cases (or rule tests) between two progress calls, and at most 1% of them: the service shows the
progress while it runs, and a call per case would cost more than the case."""
REQUIRED_COVERAGE = 100
"""Percent of the rules some rule test must fire for the tests to pass: the shipped policy's bar
(tests/engine/tooling/test_rule_tests.py fails on a rule no test fires; `aftersales test
--min-coverage 100`)."""

Progress = Callable[[str, int, "int | None"], None]


def gather(new: Snapshot, base: Snapshot | None, cases: Iterable[dict], *, backend: str = "python",
           progress: Progress = lambda step, done, total: None, max_cases: int = MAX_IMPACT_CASES) -> dict:
    """The four reports on `new` ("load", "check", "tests", "impact" against `base` over `cases`,
    decision-log entries, oldest first as api.decision_log gives them) and the verdict
    ("ok_to_approve": it loads and its tests pass; "needs_reason": check has open findings)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}")
    if isinstance(max_cases, bool) or not isinstance(max_cases, int) or max_cases < 1:
        raise ValueError("max_cases must be a whole number from 1")
    progress("load", 0, len(new.ruleset_files))
    compiled = compile_snapshot(new)
    book = _book(compiled, backend)
    load = {"ok": not book.errors, "problems": [p.as_dict() for p in book.all_problems()]}
    progress("load", len(new.ruleset_files), len(new.ruleset_files))
    with materialized(new) as folder:
        check = _check(book, folder, progress)
        tests = _tests(book, folder, load["ok"], progress)
    impact = _impact(new, compiled, base, cases, max_cases, progress)
    report = {"load": load, "check": check, "tests": tests, "impact": impact,
              "ok_to_approve": load["ok"] and tests["ok"],
              "needs_reason": any(not f["accepted"] for f in check["findings"])}
    # examples carry the cases as logged, where a number may be a Decimal: text, as money is
    return json.loads(json.dumps(report, ensure_ascii=False, default=_as_text))


def _as_text(o):
    if isinstance(o, Decimal):
        return str(o)
    raise TypeError(f"{type(o).__name__} in the evidence")


def _rel(name: str, folder: Path) -> str:
    """A path under the temporary folder as the snapshot names it."""
    return name.removeprefix(f"{folder}/")


def _check(book: RuleBook, folder: Path, progress: Progress) -> dict:
    """What `aftersales check` reports for each loaded rule set (aftersales/check.py), its rule tests
    seeding the cases."""
    moment = read_as_of(None).replace(hour=10, minute=0, second=0)  # as the CLI: deterministic within a day
    names = sorted(book.rulesets)
    reports = []
    progress("check", 0, len(names))
    for i, name in enumerate(names, 1):
        rs = book.rulesets[name].ruleset
        # the analysis reads the file itself for a line it did not keep: give it the real one
        reports.append(analyse(dataclasses.replace(rs, path=str(folder / rs.path)), moment, DEFAULT_BUDGET, folder))
        progress("check", i, len(names))
    findings = []
    for r in reports:
        for f in r.findings:
            f.file = _rel(f.file, folder)
            findings.append(f.as_dict())
    open_ = [f for f in findings if not f["accepted"]]
    errors = sum(1 for f in open_ if f["level"] == "error")
    return {"findings": findings,
            "counts": {"findings": len(findings), "errors": errors, "warnings": len(open_) - errors,
                       "accepted": len(findings) - len(open_)},
            "rulesets": [{k: v for k, v in r.as_dict().items() if k != "findings"} for r in reports]}


def _tests(book: RuleBook, folder: Path, loads: bool, progress: Progress) -> dict:
    """The snapshot's rule tests on its rules, as `aftersales test` runs them (aftersales/ruletest.py),
    and the rule coverage; a test of a rule set that did not load fails."""
    progress("tests", 0, None)
    try:
        tests = load_tests(folder)
    except RulesError as e:
        failures = [{"where": f"{_rel(p.file, folder)}:{p.line}", "name": "(rule-test file)", "message": p.message}
                    for p in e.problems]
        return {"ok": False, "passed": 0, "failed": len(failures), "failures": failures,
                "coverage": _coverage(book, [])}
    results, failures = [], []
    step = _step(len(tests))
    for i, t in enumerate(tests, 1):
        result, message = _run(book, t)
        if result is not None:
            results.append(result)
        if message is not None:
            failures.append({"where": f"{_rel(t.file, folder)}:{t.line}", "name": t.name, "message": message})
        if i % step == 0 or i == len(tests):
            progress("tests", i, len(tests))
    cov = _coverage(book, results)
    return {"ok": loads and not failures and cov["percent_covered"] >= REQUIRED_COVERAGE,
            "passed": len(tests) - len(failures), "failed": len(failures), "failures": failures, "coverage": cov}


def _run(book: RuleBook, test) -> tuple:
    """(the result of one rule test or None, why it failed or None)."""
    loaded = book.rulesets.get(test.ruleset)
    if loaded is None:
        return None, f"rule set {test.ruleset!r} is not loaded (unknown, or see the load problems)"
    try:
        result = run_test(loaded, test, book.backend)
    except (TypeError, ValueError, AttributeError) as e:
        # load_tests checks a test's keys, not the shape of their values (`case: [1]`,
        # `warnings: many`): the runner trips on them, and that is this test's failure
        return None, f"the test cannot be run: {type(e).__name__}: {e}"
    return result, None if result.passed else "; ".join(result.failures)


def _coverage(book: RuleBook, results: list) -> dict:
    """Per rule set, the rules some test fired and those none did; overall, in whole percent
    (rounded down, so a rule never fired is never 100)."""
    per, hit_all, n_all = {}, 0, 0
    for name, (hit, n, missing) in coverage(book, results).items():
        per[name] = {"fired": hit, "rules": n, "never_fired": missing}
        hit_all, n_all = hit_all + hit, n_all + n
    return {"rulesets": per, "fired": hit_all, "rules": n_all,
            "percent_covered": 100 * hit_all // n_all if n_all else 100, "required": REQUIRED_COVERAGE}


def _step(total: int) -> int:
    """Items between two progress calls: about 1% of them, at most PROGRESS_EVERY."""
    return max(1, min(PROGRESS_EVERY, math.ceil(total / 100)))


def _impact(new: Snapshot, compiled: Compiled, base: Snapshot | None, cases: Iterable[dict], max_cases: int,
            progress: Progress) -> dict:
    """`aftersales impact --format json` of `new` against `base` over the most recent `max_cases`
    entries (engine.tooling.impact: each entry a line, decided under both rule books on the Python
    backend, as the tool decides them)."""
    if base is None:
        return {"skipped": "no active release to compare with"}
    progress("impact", 0, None)
    kept: deque = deque(maxlen=max_cases)  # (line, None) or (None, why the entry cannot be read)
    logged = 0
    for entry in cases:
        logged += 1
        try:
            kept.append((log_lines([entry])[0], None))
        except (KeyError, TypeError, ValueError) as e:
            kept.append((None, f"not a decision-log entry: {type(e).__name__} {e}"))
    t0 = time.perf_counter()
    books = [_book(compile_snapshot(base), "python"), _book(compiled, "python")]
    problems = {side: [str(p) for p in b.all_problems()] for side, b in zip(("base", "current"), books)}
    comparer = Comparer(books[0], books[1], None, read_as_of(None).isoformat(), EXAMPLES)
    total, entries, step = Aggregate(), list(kept), _step(len(kept))
    progress("impact", 0, len(entries))
    for start in range(0, len(entries), step):
        agg = Aggregate()
        for index, (line, error) in enumerate(entries[start:start + step], start=start + 1):
            if line is None:
                agg.unreadable_count += 1
                if len(agg.unreadable) < 10:  # as Aggregate keeps them
                    agg.unreadable.append((index, error))
            else:
                comparer.one(agg, index, line)
        total.merge(agg)
        progress("impact", min(start + step, len(entries)), len(entries))
    rep = report_dict(total, f"active release {base.digest[:19]}", f"release {new.digest[:19]}",
                      time.perf_counter() - t0, problems)
    rep["logged"] = logged
    rep["truncated"] = logged > max_cases
    if rep["truncated"]:
        rep["note"] = f"only the most recent {max_cases:,} of {logged:,} logged decisions were compared"
    return rep


def _book(compiled: Compiled, backend: str) -> RuleBook:
    """The compiled rule sets bound to `backend`; what did not compile, or what the backend refuses,
    is among the book's errors (named by file and line)."""
    book = RuleBook(Path(), backend, compiled.calendar)
    book.errors.update(compiled.errors)
    for rs in compiled.rulesets.values():
        try:
            book.install(rs)
        except RulesError as e:
            book.errors[rs.name] = e
    return book
