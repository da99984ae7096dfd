"""The Rete backend: each stage's conditions compiled into a durable-rules ruleset.

Simple tests (`fact op literal`, `fact op fact`, `fact in [...]`, boolean facts) on
whole numbers, text, enums, booleans, dates and date-times become native Rete
tests. Anything else (money and decimals, which the engine would compare as binary
floats, and function calls) is computed in Python first and matched as a boolean
fact. Negation is pushed down to the tests (De Morgan), so a missing fact never
matches — the same three-valued logic as the Python backend.
"""
from __future__ import annotations

import operator
import re
from bisect import bisect_left
from datetime import date, datetime

from engine.model import All, AnyOf, Atom, Not, RuleSet
from engine.evaluation.backends.durable_host import RuleHost

_NATIVE_KINDS = {"integer": int, "boolean": bool, "string": str, "enum": str, "date": date, "datetime": datetime}
_DURABLE_OP = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "==": None, "!=": "$neq"}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "==", "in": "not in", "not in": "in"}
TRUE_KEY, EFFECTIVE_KEY = "__true", "__effective"
# Matches remembered per stage (0 turns it off). Which rules of a stage fire is a pure
# function of the fact asserted (a fresh session each time, nothing else in it), and
# facts repeat a lot once a number or date compared only with literals is taken as
# where it falls among them — most are booleans, enums and the results of computed
# tests — so a stage whose fact was seen before skips the native assert. Bounded: a full memo
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


_PY_OP = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
          "!=": operator.ne}


def _compare(n):
    """`name op literal` or `name op name` in Python, as the expression compiler's comparison does it
    (unknown when either side is), without its closures."""
    op, name = _PY_OP[n.op], n.name
    if n.operand[0] == "lit":
        literal = n.operand[1]
        return lambda env: None if (v := env.get(name)) is None else op(v, literal)
    other = n.operand[1]
    return lambda env: None if (v := env.get(name)) is None or (w := env.get(other)) is None else op(v, w)


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
        self.literals: dict[str, set] = {}  # fact name → the literals the stage compares it with
        self.raw: set[str] = set()  # names compared with other names or as booleans: memo keys use the value
        self.kinds: dict[str, str] = {}  # fact name → its type's kind

    def rule(self, rule) -> dict:
        tests = [self.node(rule.when, False)]
        self.uses_effective |= bool(rule.effective_from or rule.effective_to)
        for d in (rule.effective_from, rule.effective_to):
            if d:
                self.literals.setdefault(EFFECTIVE_KEY, set()).add(encode(d))
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
            if given and given[1] in atom.expr.names:
                fn = _given(given[1])
            elif native is not None and native.op in _PY_OP and native.operand[0] in ("lit", "name"):
                fn = _compare(native)  # e.g. money or decimal against a literal: not native, but simple
            else:
                fn = atom.expr.fn
            self.computed.append((key, fn))
        return {key: not negate}

    def native(self, n, negate: bool) -> dict | None:
        kind = n.type.kind
        if kind not in _NATIVE_KINDS:
            return None
        op = _NEGATE[n.op] if negate and n.op != "is" else n.op
        name = n.name
        self.kinds[name] = kind
        exists = {"$ex": {name: 1}}
        if op == "is":
            self.native_names.add(name)
            self.raw.add(name)
            return {name: (not n.operand[1]) if negate else n.operand[1]}
        if op in ("in", "not in"):
            values = n.operand[1]
            if not values or not all(_literal_ok(kind, v) for v in values):
                return None
            self.native_names.add(name)
            self.literals.setdefault(name, set()).update(encode(v) for v in values)
            if op == "in":
                tests = [{name: encode(v)} for v in values]
                return tests[0] if len(tests) == 1 else {"$or": tests}
            return {"$and": [exists] + [{"$neq": {name: encode(v)}} for v in values]}
        if n.operand[0] == "lit":
            if not _literal_ok(kind, n.operand[1]):
                return None
            right = encode(n.operand[1])
            self.literals.setdefault(name, set()).add(right)
            guards = [exists]
        else:
            other, other_type = n.operand[1], n.operand[2]
            if other_type.kind != kind and {other_type.kind, kind} != {"string", "enum"}:
                return None
            self.native_names.add(other)
            self.kinds[other] = other_type.kind
            self.raw.update((name, other))
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
            fields = tuple((name, *_abstraction(name, compiler),
                            encode if compiler.kinds.get(name, "date") in ("date", "datetime") else None)
                           for name in sorted(compiler.native_names))
            effective = _abstraction(EFFECTIVE_KEY, compiler) if compiler.uses_effective else None
            self._stages.append((handle, by_name, order, tuple(compiler.computed), fields, effective, {}))

    def match(self, stage_index, env, effective):
        handle, by_name, order, computed, fields, effective_key, memo = self._stages[stage_index]
        if handle is None:
            return []
        # The memo key, and the values of the fact the Rete network would see: for a fact the stage
        # only compares with literals, the key holds where the value falls among those literals
        # (which decides every such test) rather than the value itself; other facts are in the key
        # as they are. The fact itself is built only when the native engine is asked.
        key, values = [], []
        append, keep = key.append, values.append
        effective_value = None
        if effective_key is not None and effective is not None:
            effective_value = encode(effective)
            append(_place(effective_value, *effective_key))
        for name, literals, literal_set, to_native in fields:
            value = env.get(name)
            if value is None:
                append(None)
                keep(None)
                continue
            if to_native is not None:  # dates and date-times; other kinds are sent as they are
                value = to_native(value)
            keep(value)
            if literals is None:
                append(value)
            else:
                try:
                    append((bisect_left(literals, value), value in literal_set))
                except TypeError:  # a value of another type than the literals (not produced by the compiler)
                    append(value)
        computed_values = [fn(env) for _, fn in computed]
        key.extend(computed_values)
        key = tuple(key)
        rules = memo.get(key) if self._memo_size else None
        if rules is not None:
            self.memo_hits += 1
            return list(rules)
        fact = {TRUE_KEY: True}
        if effective_value is not None:
            fact[EFFECTIVE_KEY] = effective_value
        for (name, *_), value in zip(fields, values):
            if value is not None:
                fact[name] = value
        for (k, _), value in zip(computed, computed_values):
            if value is not None:
                fact[k] = value
        fired = self._host.fire(handle, fact)
        rules = [by_name[n] for n in sorted(fired, key=order.__getitem__)]
        if self._memo_size:
            self.memo_misses += 1
            if len(memo) < self._memo_size:  # full: keep what is there (the facts seen first are the common ones)
                memo[key] = rules
        return list(rules)


def _abstraction(name: str, compiler: _StageCompiler) -> tuple:
    """(sorted literals, their set) for a fact compared only with literals; (None, None) otherwise."""
    literals = compiler.literals.get(name)
    if not literals or name in compiler.raw:
        return None, None
    try:
        ordered = tuple(sorted(literals))
    except TypeError:  # literals of different types: keep the value itself
        return None, None
    return ordered, frozenset(literals)


def _place(value, literals: tuple, literal_set: frozenset):
    """Which literals are below `value` and whether it equals one: all that <, <=, ==, !=, >=, > and
    `in` against those literals can tell about it."""
    try:
        return bisect_left(literals, value), value in literal_set
    except TypeError:  # a value of another type than the literals (not produced by the compiler)
        return value
