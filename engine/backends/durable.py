"""The Rete backend: each stage's conditions compiled into a durable-rules ruleset.

Simple tests (`fact op literal`, `fact op fact`, `fact in [...]`, boolean facts) on
whole numbers, text, enums, booleans, dates and date-times become native Rete
tests. Anything else (money and decimals, which the engine would compare as binary
floats, and function calls) is computed in Python first and matched as a boolean
fact. Negation is pushed down to the tests (De Morgan), so a missing fact never
matches — the same three-valued logic as the Python backend.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from ..model import All, AnyOf, Atom, Not, RuleSet
from .durable_host import RuleHost

_NATIVE_KINDS = {"integer": int, "boolean": bool, "string": str, "enum": str, "date": date, "datetime": datetime}
_DURABLE_OP = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "==": None, "!=": "$neq"}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "==", "in": "not in", "not in": "in"}
TRUE_KEY, EFFECTIVE_KEY = "__true", "__effective"
# Matches remembered per stage (0 turns it off). Which rules of a stage fire is a pure
# function of the fact asserted (a fresh session each time, nothing else in it), and
# facts repeat a lot — most are booleans, enums and the results of computed tests —
# so a stage whose fact was seen before skips the native assert. Bounded: a full memo
# takes no more. bench/RESULTS.md gives the hit rates and the figures without it.
MEMO_SIZE = 4096


def encode(value):
    """A fact value as the Rete network compares it (exact: no money, no floats)."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1_000_000)
    if isinstance(value, date):
        return value.toordinal()
    return value


_GIVEN = re.compile(r"given\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)")


def _given(name):
    """`given(name)`, without the generic function-call machinery (the commonest computed test)."""
    return lambda env: env.get(name) is not None


def _literal_ok(kind: str, value) -> bool:
    py = _NATIVE_KINDS.get(kind)
    if py is None or value is None:
        return False
    if py is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if py is date:
        return isinstance(value, date) and not isinstance(value, datetime)
    return isinstance(value, py)


class _StageCompiler:
    """Turns one stage's rule conditions into durable-rules JSON."""

    def __init__(self):
        self.computed: list = []  # (key, fn) atoms evaluated in Python before asserting
        self.native_names: set[str] = set()
        self.uses_effective = False  # some rule has effective dates: the fact carries the effective date
        self._keys: dict[str, str] = {}  # expression text → its key in the fact

    def rule(self, rule) -> dict:
        tests = [self.node(rule.when, False)]
        self.uses_effective |= bool(rule.effective_from or rule.effective_to)
        if rule.effective_from:
            tests.append({"$gte": {EFFECTIVE_KEY: encode(rule.effective_from)}})
        if rule.effective_to:
            tests.append({"$lte": {EFFECTIVE_KEY: encode(rule.effective_to)}})
        return {"all": [{"m": tests[0] if len(tests) == 1 else {"$and": tests}}]}

    def node(self, cond, negate: bool) -> dict:
        if isinstance(cond, Not):
            return self.node(cond.item, not negate)
        if isinstance(cond, (All, AnyOf)):
            if not cond.items:  # `when: true` (or its negation)
                return {TRUE_KEY: not negate}
            conj = isinstance(cond, All) != negate
            parts = [self.node(i, negate) for i in cond.items]
            return parts[0] if len(parts) == 1 else {"$and" if conj else "$or": parts}
        return self.atom(cond, negate)

    def atom(self, atom: Atom, negate: bool) -> dict:
        native = atom.expr.native
        json = self.native(native, negate) if native else None
        if json is not None:
            return json
        key = self._keys.get(atom.expr.text)  # the same test in several rows of a table: computed once
        if key is None:
            key = self._keys[atom.expr.text] = f"__a{len(self.computed)}"
            given = _GIVEN.match(atom.expr.text)
            fn = _given(given[1]) if given and given[1] in atom.expr.names else atom.expr.fn
            self.computed.append((key, fn))
        return {key: not negate}

    def native(self, n, negate: bool) -> dict | None:
        kind = n.type.kind
        if kind not in _NATIVE_KINDS:
            return None
        op = _NEGATE[n.op] if negate and n.op != "is" else n.op
        name = n.name
        exists = {"$ex": {name: 1}}
        if op == "is":
            self.native_names.add(name)
            return {name: (not n.operand[1]) if negate else n.operand[1]}
        if op in ("in", "not in"):
            values = n.operand[1]
            if not values or not all(_literal_ok(kind, v) for v in values):
                return None
            self.native_names.add(name)
            if op == "in":
                tests = [{name: encode(v)} for v in values]
                return tests[0] if len(tests) == 1 else {"$or": tests}
            return {"$and": [exists] + [{"$neq": {name: encode(v)}} for v in values]}
        if n.operand[0] == "lit":
            if not _literal_ok(kind, n.operand[1]):
                return None
            right = encode(n.operand[1])
            guards = [exists]
        else:
            other, other_type = n.operand[1], n.operand[2]
            if other_type.kind != kind and {other_type.kind, kind} != {"string", "enum"}:
                return None
            self.native_names.add(other)
            right = {"$m": other}
            guards = [exists, {"$ex": {other: 1}}]
        self.native_names.add(name)
        test = {name: right} if op == "==" else {_DURABLE_OP[op]: {name: right}}
        return {"$and": guards + [test]} if op == "!=" or n.operand[0] == "name" else test


class DurableMatcher:
    name = "durable"

    def __init__(self, ruleset: RuleSet, memo_size: int | None = None):
        self._host = RuleHost(f"{ruleset.name}_{ruleset.digest[7:19]}")
        self._memo_size = MEMO_SIZE if memo_size is None else memo_size
        self.memo_hits = self.memo_misses = 0
        self._stages = []
        for stage in ruleset.stages:
            compiler = _StageCompiler()
            by_name = {f"r{i}": r for i, r in enumerate(stage.rules)}
            definition = {name: compiler.rule(r) for name, r in by_name.items()}
            handle = self._host.add_ruleset(definition) if definition else None
            order = {name: i for i, name in enumerate(by_name)}
            self._stages.append((handle, by_name, order, tuple(compiler.computed),
                                 tuple(sorted(compiler.native_names)), compiler.uses_effective, {}))

    def match(self, stage_index, env, effective):
        handle, by_name, order, computed, names, uses_effective, memo = self._stages[stage_index]
        if handle is None:
            return []
        fact = {TRUE_KEY: True}
        if uses_effective and effective is not None:
            fact[EFFECTIVE_KEY] = encode(effective)
        for name in names:
            value = env.get(name)
            if value is not None:
                fact[name] = encode(value)
        for key, fn in computed:
            value = fn(env)
            if value is not None:
                fact[key] = value
        if not self._memo_size:
            fired = self._host.fire(handle, fact)
            return [by_name[n] for n in sorted(fired, key=order.__getitem__)]
        key = tuple(fact.items())
        rules = memo.get(key)
        if rules is None:
            self.memo_misses += 1
            fired = self._host.fire(handle, fact)
            rules = [by_name[n] for n in sorted(fired, key=order.__getitem__)]
            if len(memo) < self._memo_size:  # full: keep what is there (the facts seen first are the common ones)
                memo[key] = rules
        else:
            self.memo_hits += 1
        return list(rules)
