"""The boundary values `aftersales check` tries for each input of a rule set.

For every input: the constants the rule set compares it with — directly or through derived
facts and outputs, as the compiler recorded them on each expression (Expr.literals) — each
one, one below and one above (dates: ±1 day, money: ±0.01), every enum value, both booleans,
"not given" for an optional input, and a few plain values.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from engine.language.conditions import atoms
from engine.language.expressions import Expr
from engine.model import Rule, RuleSet
from engine.types import CHINA, to_json

# A candidate is a JSON value, or a value relative to the case's as_of:
#   ("d", n)        the date as_of + n days
#   ("m", months, n) the date add_months(as_of, months) + n days
#   ("t", minutes)  the date-time as_of + minutes
#   ("list", (c, …)) a list of candidates
# so one candidate serves cases with different as_of (the rule tests have their own).
ABSENT = ("absent",)

DECISION_DATE = "$today"
"""In a dependency set of `Candidates.deps`: the fact depends on the decision date (today, as_of),
which the case does not hold — the as_of pool varies it. Not an input name (no input starts with $)."""


def materialize(c, as_of: datetime):
    if not isinstance(c, tuple):
        return c
    kind = c[0]
    if kind == "d":
        return (as_of.date() + timedelta(days=c[1])).isoformat()
    if kind == "m":
        return (as_of.date() + relativedelta(months=c[1]) + timedelta(days=c[2])).isoformat()
    if kind == "t":
        return (as_of + timedelta(minutes=c[1])).replace(microsecond=0).isoformat()
    if kind == "list":
        return [materialize(i, as_of) for i in c[1]]
    raise ValueError(c)


def _num(x: Decimal, kind: str):
    """A number as a case would send it."""
    if kind == "integer":
        return int(x)
    return f"{Decimal(x).quantize(Decimal('0.01')) if kind == 'money' else x}"


class Candidates:
    """The boundary values worth trying for each input of a rule set."""

    def __init__(self, ruleset: RuleSet):
        self.rs = ruleset
        self.inputs = ruleset.inputs
        self._deps: dict[str, frozenset] = {}
        self.setters: dict[str, list[Rule]] = {}
        for r in ruleset.rules:
            for o in r.then:
                self.setters.setdefault(o, []).append(r)
        self.derived = {d.name: d for d in ruleset.derived}
        for s in ruleset.stages:
            for d in s.derived:
                self.derived[d.name] = d
        self.pool: dict[str, dict] = {n: {} for n in self.inputs}  # input → {candidate: None} (ordered set)
        for name, inp in self.inputs.items():
            self._base(name, inp)
        for expr in self._expressions():
            self._constants(expr)
        eff_names = ruleset.effective_date.names if ruleset.effective_date else {"today"}
        for r in ruleset.rules:
            for d in (r.effective_from, r.effective_to):
                if d is not None:
                    self._propagate(self.deps(eff_names), d)
        self.lists = {n: list(p) for n, p in self.pool.items()}

    # which inputs a fact depends on (DECISION_DATE for today / as_of)
    def deps(self, names) -> frozenset:
        out = set()
        for n in names:
            out |= self._dep(n)
        return frozenset(out)

    def _dep(self, name) -> frozenset:
        if name in self._deps:
            return self._deps[name]
        self._deps[name] = frozenset()  # guards against cycles
        if name in self.inputs:
            result = frozenset({name})
        elif name in ("today", "as_of"):
            result = frozenset({DECISION_DATE})
        elif name in self.derived:
            result = self.deps(self.derived[name].expr.names)
        elif name in self.rs.outputs:
            names = set()
            for r in self.setters.get(name, []):
                names |= set(r.reads) | {n for e in r.then.values() for n in e.names}
            result = self.deps(names)
        else:
            result = frozenset()
        self._deps[name] = result
        return result

    def _expressions(self):
        rs = self.rs
        for d in self.derived.values():
            yield d.expr
        for v in rs.validations:
            yield v.expr
        if rs.effective_date is not None:
            yield rs.effective_date
        for r in rs.rules:
            for atom in atoms(r.when):
                yield atom.expr
            for e in r.then.values():
                if not e.constant:
                    yield e
        for o in rs.outputs.values():
            if isinstance(o.required, Expr):
                yield o.required

    def _add(self, name, c):
        if c is ABSENT or self._fits(name, c):
            self.pool[name].setdefault(c, None)

    def _fits(self, name, c) -> bool:
        inp = self.inputs[name]
        if inp.type.numeric and not isinstance(c, tuple):
            v = Decimal(str(c))
            if inp.minimum is not None and v < inp.minimum:
                return False
            if inp.maximum is not None and v > inp.maximum:
                return False
        return True

    def _base(self, name, inp):
        t = inp.type
        k = t.kind
        if not inp.required and inp.default is None:
            self._add(name, ABSENT)
        if inp.default is not None:
            self._add(name, _json_default(inp.default, t))
        if k == "enum":
            for v in t.values:
                self._add(name, v)
        elif k == "boolean":
            self._add(name, True)
            self._add(name, False)
        elif k in ("integer", "decimal", "money"):
            for v in (inp.minimum, inp.maximum):
                if v is not None:
                    self._add(name, _num(v, k))
            for v in (0, 1, 10, 100, 1000, 10000):
                self._add(name, _num(Decimal(v), k))
        elif k == "date":
            for n in (0, -1, -30, -100, -365, -400, -1000):
                self._add(name, ("d", n))
        elif k == "datetime":
            for m in (0, -60, -24 * 60, -3 * 24 * 60, -7 * 24 * 60, -30 * 24 * 60):
                self._add(name, ("t", m))
        elif k == "string":
            self._add(name, "")
            self._add(name, "x")  # some text
        elif k == "list":
            items = self._items(t.item, ())
            lo = inp.min_items or 0
            if lo == 0:
                self._add(name, ("list", ()))
            for i in items[:6]:
                self._add(name, ("list", (i,) * max(lo, 1)))

    def _items(self, t, consts) -> list:
        k = t.kind
        if k in ("integer", "decimal", "money"):
            out = [_num(Decimal(v), k) for v in (0, 1, 100, 1000)]
            for c in consts:
                if isinstance(c, (int, Decimal)) and not isinstance(c, bool):
                    out += [_num(c + d, k) for d in _steps(k)]
            return list(dict.fromkeys(out))
        if k == "date":
            return [("d", 0), ("d", -30)]
        if k in ("string", "enum"):
            return list(t.values) or ["", "a"]
        if k == "boolean":
            return [True, False]
        return []

    def _constants(self, expr: Expr):
        """Candidates from the constants `expr` compares with, for the inputs it depends on; for a
        table it looks up, the table's keys (and one that is not a key) for its text inputs."""
        names = expr.names
        tables = [n for n in sorted(names) if n in self.rs.tables]
        inputs = sorted(self.deps(names))
        for c, _type in expr.literals:
            self._propagate(inputs, c)
        for tname in tables:
            keys = [k for k in self.rs.tables[tname].rows if isinstance(k, str)]
            for x in inputs:
                if x in self.inputs and self.inputs[x].type.kind == "string":
                    for k in keys + ["?"]:
                        self._add(x, k)

    def _propagate(self, inputs, c):
        for x in sorted(inputs):
            if x == DECISION_DATE:  # the as_of dates worth trying: Analyzer.as_of_pool
                continue
            inp = self.inputs[x]
            k = inp.type.kind
            if k == "list":
                for i in self._items(inp.type.item, [c]):
                    self._add(x, ("list", (i,) * max(inp.min_items or 0, 1)))
                continue
            for cand in _from_const(k, c):
                self._add(x, cand)


def _steps(kind):
    if kind == "integer":
        return (-1, 0, 1)
    return (Decimal("-0.01"), Decimal(0), Decimal("0.01"))


def _from_const(kind, c) -> list:
    """Candidates for an input of `kind` from a constant the rule set compares it with."""
    out = []
    if isinstance(c, datetime):
        c = c.date()
    if kind in ("integer", "decimal", "money"):
        if isinstance(c, (int, Decimal)):
            c = Decimal(c)
            if kind == "integer":
                if c == c.to_integral_value():
                    out = [int(c) + d for d in (-1, 0, 1)]
                else:
                    out = [int(c.to_integral_value(rounding="ROUND_FLOOR")), int(c.to_integral_value(rounding="ROUND_CEILING"))]
            else:
                out = [_num(c + d, kind) for d in _steps(kind)]
    elif kind == "date":
        if isinstance(c, date):
            out = [(c + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]
        elif isinstance(c, int) and 0 <= c <= 3660:
            out = [("d", -c + d) for d in (-1, 0, 1)]
            if c <= 120:
                out += [("m", -c, d) for d in (-1, 0, 1)]
            if c <= 10:
                out += [("m", -12 * c, d) for d in (-1, 0, 1)]
    elif kind == "datetime":
        if isinstance(c, date):
            start = datetime.combine(c, datetime.min.time(), CHINA)
            out = [(start + timedelta(minutes=d)).isoformat() for d in (-1, 0, 1)]
        elif isinstance(c, (int, Decimal)) and 0 <= c <= 2000:
            minutes = int(c * 60)
            out = [("t", -minutes + d) for d in (-1, 0, 1)] + [("t", -int(c) * 1440)]
    elif kind == "string":
        if isinstance(c, str):
            out = [c]
    return out


def _json_default(value, t):
    j = to_json(value, t)
    return tuple(j) if isinstance(j, list) else j

