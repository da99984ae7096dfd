"""The cases `aftersales check` decides, and what it records about each.

The cases are drawn with a fixed seed, within a budget per rule set:

1. the rule tests of the rule set (realistic cases that make every rule fire) and a
   base case (every input at its default);
2. the base case with one input changed, for every candidate value of every input
   (engine.tooling.check.candidates);
3. a rule-test case with one input changed, sampled;
4. a rule-test or the base case with two to four inputs changed, sampled;
5. for a rule no case has fired yet, and one that fired but never decided: a local search
   (engine.tooling.check.search).

A case the inputs or validations reject is outside the domain: it is repaired (the fields
named get other candidates) up to twice, else skipped.
"""
from __future__ import annotations

import json
import random
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from engine.errors import CaseError, EvaluationLimit
from engine.explanation.trace import RecordingMatcher, trace
from engine.model import RuleSet
from engine.tooling.check.candidates import ABSENT, DECISION_DATE, Candidates, materialize
from engine.tooling.check.examples import simpler, size
from engine.tooling.check.findings import Report, report
from engine.tooling.check.search import search, search_decide
from engine.types import to_json

DEFAULT_BUDGET = 8000  # generated cases per rule set


@dataclass
class _RuleStats:
    held: int = 0  # condition true and in force (fired, or suppressed by an earlier table row)
    decided: int = 0  # won at least one output it sets
    example: tuple | None = None  # a case where it held
    winners: Counter = field(default_factory=Counter)  # rules that took its outputs
    shadowed_by: set = field(default_factory=set)  # rows of its `hit: first` table that matched before it
    condition_true: int = 0  # condition true, in force or not
    closest: tuple | None = None  # for a rule that never fired: the case the search got closest with
    held_cases: list = field(default_factory=list)  # a few cases where it held (for the search)


class Analyzer:
    """One run of `aftersales check` on a rule set: generates the cases, decides each one and
    records what happened (engine.tooling.check.findings turns the record into findings)."""

    def __init__(self, ruleset: RuleSet, as_of: datetime, budget: int = DEFAULT_BUDGET,
                 seeds: list | None = None, seed: int | None = None):
        self.rs = ruleset
        self.as_of = as_of
        self.budget = budget
        self.seeds = seeds or []  # [(case dict, as_of datetime)]
        self.rng = random.Random(seed if seed is not None else zlib.crc32(ruleset.name.encode()))
        self.cand = Candidates(ruleset)
        self.matcher = RecordingMatcher(ruleset)
        self.rules = {r.id: r for r in ruleset.rules}
        self.stats = {r.id: _RuleStats() for r in ruleset.rules}
        self.overlaps: dict[tuple, list] = {}  # (winner, loser, output) → [count, example, values]
        self.conflicts: dict[tuple, list] = {}
        self.gaps: dict[str, list] = {}  # output → [count, example]
        self.limits: dict[tuple, list] = {}  # (rule id, fact) → [count, example, EvaluationLimit]
        self.cases = 0
        self.valid = 0
        self.seen: set[str] = set()
        # as_of dates worth trying: the analysis date, and around each rule's effective dates when
        # the rule set's effective date follows as_of
        self.as_of_pool = [as_of]
        if DECISION_DATE in self.cand.deps(ruleset.effective_date.names if ruleset.effective_date else {"today"}):
            self.as_of_pool += sorted({
                datetime.combine(d + timedelta(days=k), as_of.timetz())
                for r in ruleset.rules for d in (r.effective_from, r.effective_to) if d is not None
                for k in (-1, 0, 1)})

    # the base case: required inputs at a plain value, the rest not given (their defaults); when
    # the validations want more (a date-time for a repair), the fields they name get candidates
    def base(self) -> dict:
        case = {}
        for name, inp in self.rs.inputs.items():
            if inp.required:
                pool = [c for c in self.cand.lists[name] if c is not ABSENT]
                case[name] = _prefer(pool, inp.type.kind)
        for _ in range(20):
            try:
                trace(self.rs, self._materialize(case, self.as_of), self.as_of, self.matcher)
                return case
            except CaseError as e:
                repaired = self._repair(case, e)
                if repaired is None:
                    return case
                case = repaired
        return case

    def _repair(self, case: dict, e: CaseError, as_of: datetime | None = None) -> dict | None:
        """A copy of the case where each input `e` names gets another candidate (made concrete
        for `as_of` when given); None when `e` names no input."""
        fields = [f for f in e.errors if f in self.cand.lists]
        if not fields:
            return None
        case = dict(case)
        for f in fields:
            pool = [c for c in self.cand.lists[f] if c is not ABSENT]
            if pool:
                c = self.rng.choice(pool)
                case[f] = c if as_of is None else materialize(c, as_of)
        return case

    def run(self) -> Report:
        base = self.base()
        seeds = [(c, a) for c, a in self.seeds] + [(self._materialize(base, self.as_of), self.as_of)]
        # 1. the seeds themselves, and each as_of of interest on the base case
        for case, as_of in seeds:
            self.evaluate(case, as_of)
        for as_of in self.as_of_pool[1:]:
            self.evaluate(self._materialize(base, as_of), as_of)
        # 2. the base case with one input changed, every candidate
        for name, pool in self.cand.lists.items():
            for c in pool:
                if self.cases >= self.budget:
                    break
                self.evaluate(self.with_changes(base, {name: c}, self.as_of), self.as_of)
        # 3. and 4. seeds with one, then two to four inputs changed
        names = list(self.cand.lists)
        left = max(self.budget - self.cases, 0)
        attempts = 0
        while self.cases < self.budget and attempts < 3 * left:
            i, attempts = attempts, attempts + 1
            if self.seeds and self.rng.random() < 0.8:
                case, as_of = seeds[self.rng.randrange(len(seeds))]
            else:
                as_of = self.rng.choice(self.as_of_pool)
                case = self._materialize(base, as_of)
            k = 1 if i < left * 2 // 5 else self.rng.randint(2, 4)
            changes = {}
            for name in self.rng.sample(names, min(k, len(names))):
                changes[name] = self.rng.choice(self.cand.lists[name])
            self.evaluate(self.with_changes(case, changes, as_of), as_of)
        # 5. local search for the rules nothing fired yet, and for the rules that fired but never
        # decided: change what the rules that overrode them read
        for rid, st in self.stats.items():
            if st.held == 0:
                search(self, self.rules[rid], seeds)
        for rid, st in self.stats.items():
            if st.held and not st.decided:
                search_decide(self, self.rules[rid])
        return report(self)

    def _materialize(self, case: dict, as_of) -> dict:
        return {k: materialize(v, as_of) for k, v in case.items()}

    def with_changes(self, case: dict, changes: dict, as_of) -> dict:
        out = dict(case)
        for k, c in changes.items():
            if c is ABSENT:
                out.pop(k, None)
            else:
                out[k] = materialize(c, as_of)
        return out

    def evaluate(self, case: dict, as_of: datetime, repair: bool = True):
        """Decide one generated case and record what happened. A case the inputs or validations
        reject is repaired (the fields named are given other candidate values) up to twice.
        Returns (trace, the case as evaluated), or None (a repeat, or still invalid)."""
        t = None
        for _attempt in range(3 if repair else 1):
            key = json.dumps([case, as_of.isoformat()], sort_keys=True, default=str)
            if key in self.seen:
                return None
            self.seen.add(key)
            try:
                t = trace(self.rs, case, as_of, self.matcher)
                break
            except EvaluationLimit as e:  # a valid case the rule set cannot decide: a finding
                self.valid += 1
                entry = self.limits.setdefault((e.rule_id, e.fact), [0, (case, as_of), e])
                entry[0] += 1
                entry[1] = simpler(entry[1], (case, as_of))
                break
            except CaseError as e:
                repaired = self._repair(case, e, as_of)
                if repaired is None:
                    break
                case = repaired
        self.cases += 1
        if t is None:
            return None
        self.valid += 1
        example = (case, as_of)
        if t.conflict is not None:
            ids = tuple(t.conflict.rule_ids)
            entry = self.conflicts.setdefault((t.conflict.output, ids), [0, example])
            entry[0] += 1
            entry[1] = simpler(entry[1], example)
            return t, case
        self._rule_stats(t, example)
        self._overlaps(t, example)
        self._gaps(t, example)
        return t, case

    def _rule_stats(self, t, example):
        fired = set(t.fired)
        for rid, value in t.held.items():
            if value is not True:
                continue
            st = self.stats[rid]
            st.condition_true += 1
            if not t.in_force.get(rid):
                continue
            st.held += 1
            if st.example is None or size(example) < size(st.example):
                st.example = example
            if len(st.held_cases) < 20:
                st.held_cases.append(example)
            r = self.rules[rid]
            if rid in fired:
                won = [o for o in r.then if rid in t.winners.get(o, ())]
                if won:
                    st.decided += 1
                    continue
                for o in r.then:
                    for w in t.winners.get(o, ()):
                        st.winners[(w, o)] += 1
            elif rid in t.shadowed:  # a row of a `hit: first` table behind the row that matched
                row = t.shadowed[rid]
                st.shadowed_by.add(row)
                for o in r.then:
                    st.winners[(row, o)] += 1

    def _overlaps(self, t, example):
        """A rule that lost an output to a rule of the same priority: file order decided."""
        for name, resolution in t.decision.resolution.items():
            o = self.rs.outputs[name]
            if o.combine != "priority" or not resolution.losers:
                continue
            winner = self.rules[resolution.winners[0]]
            for loser in resolution.losers:
                r = self.rules[loser]
                if r.priority == winner.priority:
                    key = (winner.id, r.id, name)
                    entry = self.overlaps.setdefault(key, [0, example, None])
                    entry[0] += 1
                    if entry[2] is None or size(example) < size(entry[1]):
                        entry[1] = example
                        entry[2] = (to_json(t.sets[winner.id][name], o.type), to_json(t.sets[r.id][name], o.type))

    def _gaps(self, t, example):
        typed = t.decision.typed
        for name, o in self.rs.outputs.items():
            if name in typed:
                continue
            req = o.required
            if req is False or (req is None and o.default is not None):
                continue
            if req is not None and req is not True and req.fn(t.env) is not True:
                continue
            entry = self.gaps.setdefault(name, [0, example])
            entry[0] += 1
            entry[1] = simpler(entry[1], example)


def _prefer(pool, kind):
    """A plain value for a required input of the base case."""
    if kind == "date":
        return ("d", -30) if ("d", -30) in pool else pool[0]
    if kind in ("integer", "decimal", "money"):
        for c in pool:
            if not isinstance(c, tuple) and Decimal(str(c)) >= 1:
                return c
    if kind == "list":
        for c in pool:
            if c[1] and c[1][0] not in (0, "0", "0.00"):
                return c
    return pool[0]
