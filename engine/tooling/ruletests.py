"""Rule tests written as data next to the rules (`rules/tests/<ruleset>/*.yaml`).

Each case gives a case body, an `as_of` and what must hold: output values, absent
outputs, rules that must (not) fire, the number of warnings, or the fields a bad
case is rejected for. The same runner serves `aftersales test` and pytest.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from engine.loading.compiler import _plain
from engine.errors import CaseError, DecisionConflict, Problem, RulesError
from engine.loading.yamlsource import load_yaml, read_rule_file

EXPECT_KEYS = ("decision", "absent", "fired", "not_fired", "warnings", "errors")
ABSENT = "(absent)"


@dataclass
class RuleTest:
    file: str
    line: int
    name: str
    ruleset: str
    case: dict
    as_of: object
    expect: dict

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Result:
    test: RuleTest
    backend: str
    failures: list = field(default_factory=list)
    fired: set = field(default_factory=set)
    # the failures as (what, expected, actual) rows, for a readable expected/actual table
    diffs: list = field(default_factory=list)
    fired_order: list = field(default_factory=list)

    def fail(self, what: str, expected, actual, message: str):
        self.diffs.append((what, expected, actual))
        self.failures.append(message)

    @property
    def passed(self) -> bool:
        return not self.failures


def _json_like(value):
    if isinstance(value, dict):
        return {str(k): _json_like(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_like(v) for v in value]
    if isinstance(value, (date, datetime)):
        return _plain(value)
    if isinstance(value, str):
        return str(value)
    return value


def load_tests(folder: Path, only: str | None = None) -> list[RuleTest]:
    tests, problems = [], []
    for path in sorted(Path(folder).glob("tests/*/*.yaml")):
        doc = load_yaml(read_rule_file(path), str(path))
        if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
            problems.append(Problem(str(path), 1, 1, "a rule-test file is {ruleset: …, cases: [...]}"))
            continue
        ruleset = str(doc.get("ruleset", path.parent.name))
        if only and ruleset != only:
            continue
        for i, c in enumerate(doc["cases"], start=1):
            if not isinstance(c, dict) or not isinstance(c.get("expect"), dict):
                problems.append(Problem(str(path), getattr(c, "line", 1), 1, f"case {i} needs case: and expect:"))
                continue
            if not isinstance(c.get("case") or {}, dict):
                problems.append(Problem(str(path), c.line, 1, f"case {i}: case: is the input fields, name: value"))
                continue
            unknown = [k for k in c["expect"] if k not in EXPECT_KEYS]
            if unknown:
                problems.append(Problem(str(path), c.line, 1, f"unknown expect keys {unknown} (allowed: {', '.join(EXPECT_KEYS)})"))
            as_of = c.get("as_of")
            tests.append(RuleTest(str(path), c.line, str(c.get("name", f"case {i}")), ruleset,
                                  _json_like(c.get("case") or {}), _plain(as_of) if as_of is not None else None,
                                  c["expect"]))
    if problems:
        raise RulesError(problems)
    return tests


def _same(actual, expected) -> bool:
    expected = _json_like(expected)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(actual) == len(expected) and all(_same(a, e) for a, e in zip(actual, expected))
    if isinstance(expected, (int, Decimal)) and not isinstance(expected, bool) and isinstance(actual, str):
        try:
            return Decimal(actual) == Decimal(expected)
        except InvalidOperation:
            return False
    if isinstance(expected, str) and isinstance(actual, str) and expected != actual:
        try:  # "0.1" and "0.10" are the same decimal; "2026-10-01T..." compared as written
            return Decimal(actual) == Decimal(expected)
        except InvalidOperation:
            return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return actual == expected


def run_test(loaded, test: RuleTest, backend: str) -> Result:
    result = Result(test, backend)
    expect = test.expect
    try:
        decision = loaded.decide(test.case, as_of=test.as_of)
    except CaseError as e:
        wanted = [str(f) for f in expect.get("errors") or []]
        if not wanted:
            result.fail("decision", "decided", "rejected: " + str(e), f"case rejected: {e}")
        for f in wanted:
            if f not in e.errors:
                result.fail(f"error on {f}", "rejected", "no error" + (f" (errors on {', '.join(e.errors)})"),
                            f"expected an error on {f}; got errors on {', '.join(e.errors)}")
        return result
    except DecisionConflict as e:
        result.fail("decision", "decided", f"rule conflict: {e}", f"rule conflict: {e}")
        return result
    if expect.get("errors"):
        result.fail("decision", f"rejected for {', '.join(map(str, expect['errors']))}", "decided",
                    f"expected the case to be rejected for {list(expect['errors'])}, but it was decided")
    out = decision.outputs
    result.fired_order = [f["id"] for f in decision.fired]
    result.fired = set(result.fired_order)
    for key, want in (expect.get("decision") or {}).items():
        if key not in out:
            result.fail(key, _json_like(want), ABSENT, f"{key}: expected {_json_like(want)!r}, but it is absent")
        elif not _same(out[key], want):
            result.fail(key, _json_like(want), out[key], f"{key}: expected {_json_like(want)!r}, got {out[key]!r}")
    for key in expect.get("absent") or []:
        if key in out:
            result.fail(key, ABSENT, out[key], f"{key}: expected absent, got {out[key]!r}")
    for rid in expect.get("fired") or []:
        if str(rid) not in result.fired:
            result.fail(f"rule {rid}", "fires", "did not fire",
                        f"rule {rid} did not fire (fired: {', '.join(sorted(result.fired)) or 'none'})")
    for rid in expect.get("not_fired") or []:
        if str(rid) in result.fired:
            result.fail(f"rule {rid}", "does not fire", "fired", f"rule {rid} fired but should not")
    if "warnings" in expect and len(decision.warnings) != int(expect["warnings"]):
        result.fail("warnings", int(expect["warnings"]), len(decision.warnings),
                    f"expected {expect['warnings']} warnings, got {decision.warnings}")
    return result


def coverage(book, results: list[Result]) -> dict:
    """Per rule set: (rules fired by some test, all rules, the ids never fired)."""
    fired: dict[str, set] = {}
    for r in results:
        fired.setdefault(r.test.ruleset, set()).update(r.fired)
    out = {}
    for name, loaded in sorted(book.rulesets.items()):
        ids = [rule.id for rule in loaded.ruleset.rules]
        hit = fired.get(name, set())
        out[name] = (len([i for i in ids if i in hit]), len(ids), [i for i in ids if i not in hit])
    return out
