"""The Rete backend: each stage's conditions compiled into a durable-rules ruleset.

Simple tests (`fact op literal`, `fact op fact`, `fact in [...]`, boolean facts) on
whole numbers, text, enums, booleans, dates and date-times become native Rete
tests. Anything else (money and decimals, which the engine would compare as binary
floats, and function calls) is computed in Python first and matched as a boolean
fact. Negation is pushed down to the tests (De Morgan), so a missing fact never
matches — the same three-valued logic as the Python backend.
"""
from __future__ import annotations

from datetime import date, datetime

from engine.language.conditions import fold
from engine.model import Atom, RuleSet
from engine.evaluation.backends import memo as match_memo
from engine.evaluation.backends.durable_host import RuleHost
from engine.evaluation.backends.memo import MatchMemo, abstraction, memo_key

_NATIVE_KINDS = {"integer": int, "boolean": bool, "string": str, "enum": str, "date": date, "datetime": datetime}
_DURABLE_OP = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "==": None, "!=": "$neq"}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "==", "in": "not in", "not in": "in"}
TRUE_KEY, EFFECTIVE_KEY = "__true", "__effective"
MEMO_SIZE = match_memo.MEMO_SIZE  # read when a matcher is built (the benchmarks set 0 to turn it off)


def encode(value):
    """A fact value as the Rete network compares it (exact: no money, no floats)."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1_000_000)
    if isinstance(value, date):
        return value.toordinal()
    return value


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
        tests = [self.condition(rule.when)(False)]
        self.uses_effective |= bool(rule.effective_from or rule.effective_to)
        for d in (rule.effective_from, rule.effective_to):
            if d:
                self.literals.setdefault(EFFECTIVE_KEY, set()).add(encode(d))
        if rule.effective_from:
            tests.append({"$gte": {EFFECTIVE_KEY: encode(rule.effective_from)}})
        if rule.effective_to:
            tests.append({"$lte": {EFFECTIVE_KEY: encode(rule.effective_to)}})
        return {"all": [{"m": tests[0] if len(tests) == 1 else {"$and": tests}}]}

    def condition(self, cond):
        """The condition as a function negate → durable-rules JSON: negation is pushed down to the
        atoms, so each part is built knowing whether it is negated (in the order of the tree)."""
        def joined(conjunction: bool):
            def join(_node, parts):
                def build(negate):
                    if not parts:  # `when: true` (or its negation)
                        return {TRUE_KEY: not negate}
                    built = [p(negate) for p in parts]
                    conj = conjunction != negate
                    return built[0] if len(built) == 1 else {"$and" if conj else "$or": built}
                return build
            return join
        return fold(cond, lambda a: (lambda negate: self.atom(a, negate)), joined(True), joined(False),
                    lambda _n, inner: (lambda negate: inner(not negate)))

    def atom(self, atom: Atom, negate: bool) -> dict:
        native = atom.expr.native
        json = self.native(native, negate) if native and native.op != "given" else None
        if json is not None:
            return json
        key = self._keys.get(atom.expr.text)  # the same test in several rows of a table: computed once
        if key is None:
            key = self._keys[atom.expr.text] = f"__a{len(self.computed)}"
            self.computed.append((key, atom.expr.fn))  # e.g. money against a literal: computed, then matched
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
        size = MEMO_SIZE if memo_size is None else memo_size
        self.memo_hits = self.memo_misses = 0
        self._stages = []
        for stage in ruleset.stages:
            compiler = _StageCompiler()
            by_name = {f"r{i}": r for i, r in enumerate(stage.rules)}
            definition = {name: compiler.rule(r) for name, r in by_name.items()}
            handle = self._host.add_ruleset(definition) if definition else None
            order = {name: i for i, name in enumerate(by_name)}
            fields = tuple((name, *abstraction(compiler.literals.get(name), name in compiler.raw),
                            encode if compiler.kinds.get(name, "date") in ("date", "datetime") else None, {})
                           for name in sorted(compiler.native_names))
            effective = (abstraction(compiler.literals.get(EFFECTIVE_KEY), False) if compiler.uses_effective
                         else None)
            self._stages.append((handle, by_name, order, tuple(compiler.computed), fields, effective,
                                 MatchMemo(size)))

    def match(self, stage_index, env, effective):
        handle, by_name, order, computed, fields, effective_key, memo = self._stages[stage_index]
        if handle is None:
            return []
        # The fact itself is built only when the native engine is asked (a memo miss).
        effective_value = None
        if effective_key is not None and effective is not None:
            effective_value = encode(effective)
        key = memo_key(fields, env, effective_value, effective_key)
        computed_values = [fn(env) for _, fn in computed]
        key.extend(computed_values)
        key = tuple(key)
        rules = memo.get(key)
        if rules is not None:  # a tuple: the evaluator only reads it, so it is shared, not copied
            self.memo_hits += 1
            return rules
        fact = {TRUE_KEY: True}
        if effective_value is not None:
            fact[EFFECTIVE_KEY] = effective_value
        for name, _, _, to_native, _ in fields:
            value = env.get(name)
            if value is not None:
                fact[name] = value if to_native is None else to_native(value)
        for (k, _), value in zip(computed, computed_values):
            if value is not None:
                fact[k] = value
        fired = self._host.fire(handle, fact)
        rules = tuple([by_name[n] for n in sorted(fired, key=order.__getitem__)])
        if memo.size:
            self.memo_misses += 1
            memo.put(key, rules)
        return rules
