"""Deciding each case under both rule books and adding up what changed.

A case whose status (decided / rejected / conflict) and outputs are the same under both is
unchanged (counted apart when other rules decided it); otherwise each output that moved is a
transition (`service_type: free → paid`; other than enum, boolean, text and whole numbers:
changed / appeared / disappeared), money outputs add their change to a `Money` sum, and the first
few cases of each transition are kept as examples with the rules that decided them before and
after (engine.evaluation.resolution). Aggregates of chunks merge in order, so a process pool gives
the same result as one process.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from engine.errors import CaseError, DecisionConflict
from engine.evaluation.case import read_as_of
from engine.evaluation.evaluate import evaluate
from engine.rulebook import RuleBook

EXAMPLES = 3
VALUE_TRANSITIONS = ("enum", "boolean", "string", "integer")  # other types: changed / appeared / disappeared
STATUS = "(decision)"  # the pseudo-output for decided / rejected / conflict transitions


@dataclass
class Outcome:
    status: str  # decided | rejected | conflict | no_ruleset
    outputs: dict = field(default_factory=dict)
    fired: list = field(default_factory=list)
    deciders: dict = field(default_factory=dict)  # output → rule ids whose value it took
    detail: str = ""


def decide(book: RuleBook, ruleset: str, case, as_of) -> Outcome:
    loaded = book.rulesets.get(ruleset)
    if loaded is None:
        return Outcome("no_ruleset", detail=f"no rule set {ruleset}")
    try:  # no explanation: only the outputs and the fired rule ids are compared (`sets`, in firing order)
        d = evaluate(loaded.ruleset, loaded.matcher, case, as_of, "none")
    except CaseError as e:
        return Outcome("rejected", detail="; ".join(f"{k}: {' '.join(v)}" for k, v in e.errors.items()))
    except DecisionConflict as e:
        return Outcome("conflict", detail=str(e))
    deciders = {o: list(r.winners) for o, r in d.resolution.items() if r.winners}  # engine.evaluation.resolution
    return Outcome("decided", d.outputs, list(d.sets), deciders)


@dataclass
class Money:
    total: Decimal = Decimal(0)
    up: Decimal = Decimal(0)
    down: Decimal = Decimal(0)
    cases_up: int = 0
    cases_down: int = 0
    largest: tuple | None = None  # (|change|, -index, change, case id)

    def add(self, delta: Decimal, index: int, case_id):
        self.total += delta
        if delta > 0:
            self.up += delta
            self.cases_up += 1
        elif delta < 0:
            self.down += delta
            self.cases_down += 1
        key = (abs(delta), -index, delta, case_id)
        if delta and (self.largest is None or key[:2] > self.largest[:2]):
            self.largest = key

    def merge(self, other: "Money"):
        self.total += other.total
        self.up += other.up
        self.down += other.down
        self.cases_up += other.cases_up
        self.cases_down += other.cases_down
        if other.largest and (self.largest is None or other.largest[:2] > self.largest[:2]):
            self.largest = other.largest

    def as_dict(self) -> dict:
        return {"total": _money(self.total), "up": _money(self.up), "down": _money(self.down),
                "cases_up": self.cases_up, "cases_down": self.cases_down,
                "largest": None if self.largest is None else {"change": _money(self.largest[2]),
                                                              "case": self.largest[3]}}


def _money(x: Decimal) -> str:
    return f"{x.quantize(Decimal('0.01')):f}"


@dataclass
class Aggregate:
    """What a chunk of cases (or all of them) did; chunks merge in order."""

    cases: int = 0
    unreadable: list = field(default_factory=list)  # (line, message), the first few
    unreadable_count: int = 0
    per_ruleset: Counter = field(default_factory=Counter)
    changed: Counter = field(default_factory=Counter)  # ruleset → decisions changed
    fired_only: Counter = field(default_factory=Counter)  # ruleset → same decision, other rules fired
    transitions: Counter = field(default_factory=Counter)  # (ruleset, output, before, after) → cases
    money: dict = field(default_factory=dict)  # (ruleset, output) → Money
    examples: dict = field(default_factory=dict)  # transition key → [example] (lowest indexes)
    n_examples: int = EXAMPLES  # examples kept per transition (--examples)

    def merge(self, other: "Aggregate"):
        self.cases += other.cases
        self.unreadable = (self.unreadable + other.unreadable)[:10]
        self.unreadable_count += other.unreadable_count
        for name in ("per_ruleset", "changed", "fired_only", "transitions"):
            getattr(self, name).update(getattr(other, name))
        for k, m in other.money.items():
            self.money.setdefault(k, Money()).merge(m)
        for k, ex in other.examples.items():
            mine = self.examples.setdefault(k, [])
            mine.extend(ex)
            mine.sort(key=lambda e: e["index"])
            del mine[self.n_examples:]


class Comparer:
    """Decides cases under both rule books and aggregates the differences."""

    def __init__(self, base: RuleBook, current: RuleBook, default_ruleset=None, default_as_of=None,
                 examples: int = EXAMPLES):
        self.base, self.current = base, current
        self.default_ruleset, self.default_as_of = default_ruleset, default_as_of
        self.n_examples = examples
        self.types = {}
        for book in (base, current):
            for name, loaded in book.rulesets.items():
                for o, out in loaded.ruleset.outputs.items():
                    self.types.setdefault((name, o), out.result_type)

    def run(self, start: int, lines: list[str]) -> Aggregate:
        agg = Aggregate(n_examples=self.n_examples)
        for i, line in enumerate(lines, start=start):
            if not line.strip():
                continue
            self.one(agg, i, line)
        return agg

    def one(self, agg: Aggregate, index: int, line: str):
        try:
            rec = json.loads(line, parse_float=Decimal)
            if not isinstance(rec, dict) or not isinstance(rec.get("case"), dict):
                raise ValueError("expected {\"ruleset\": …, \"case\": {…}, \"as_of\": …}")
            rs = rec.get("ruleset", self.default_ruleset)
            if isinstance(rs, dict):
                rs = rs.get("name")
            if not isinstance(rs, str):
                raise ValueError("no rule set (give \"ruleset\" or --ruleset)")
            as_of = read_as_of(rec.get("as_of") or self.default_as_of)
        except (ValueError, CaseError) as e:
            agg.unreadable_count += 1
            if len(agg.unreadable) < 10:
                agg.unreadable.append((index, str(e)))
            return
        if self.default_ruleset and rs != self.default_ruleset:
            return
        case_id = rec.get("decision_id") or f"line {index}"
        agg.cases += 1
        agg.per_ruleset[rs] += 1
        before = decide(self.base, rs, rec["case"], as_of)
        after = decide(self.current, rs, rec["case"], as_of)
        if before.status == after.status and before.outputs == after.outputs:
            if before.fired != after.fired:
                agg.fired_only[rs] += 1
            return
        agg.changed[rs] += 1
        keys = []
        if before.status != after.status:
            keys.append((rs, STATUS, before.status, after.status, None))
        for o in sorted(set(before.outputs) | set(after.outputs)):
            b, a = before.outputs.get(o), after.outputs.get(o)
            if b == a:
                continue
            t = self.types.get((rs, o))
            kind = t.kind if t is not None else "any"
            if kind in VALUE_TRANSITIONS:
                keys.append((rs, o, show(b), show(a), o))
            else:
                label = "changed" if b is not None and a is not None else "appeared" if a is not None else "disappeared"
                keys.append((rs, o, label, "", o))
            if kind == "money":
                delta = _dec(a) - _dec(b)
                agg.money.setdefault((rs, o), Money()).add(delta, index, case_id)
        for rs_, o, b, a, out in keys:
            key = (rs_, o, b, a)
            agg.transitions[key] += 1
            ex = agg.examples.setdefault(key, [])
            if len(ex) < self.n_examples:
                ex.append(_example(index, case_id, rec, as_of, before, after, out))


def show(v) -> str:
    if v is None:
        return "(absent)"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _dec(v) -> Decimal:
    if v is None:
        return Decimal(0)
    try:
        return Decimal(str(v))
    except InvalidOperation:
        return Decimal(0)


def _example(index, case_id, rec, as_of, before: Outcome, after: Outcome, output) -> dict:
    ex = {"index": index, "case_id": case_id, "as_of": as_of.isoformat(), "case": rec["case"],
          "before": {"status": before.status, "fired": before.fired},
          "after": {"status": after.status, "fired": after.fired}}
    for side, o in (("before", before), ("after", after)):
        if output is not None:
            ex[side]["value"] = o.outputs.get(output)
            ex[side]["decided_by"] = o.deciders.get(output, [])
        if o.detail:
            ex[side]["detail"] = o.detail
    return ex
