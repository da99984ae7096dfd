"""The fixed set of functions an expression may call.

Each entry type-checks its arguments at load time (returning the result type or
raising ExpressionError) and implements the call at evaluation time. Any null
argument gives null (unknown), except in `given` and `coalesce`, which exist to
handle nulls. Functions marked `warns` may add a warning to the decision being made
(the calendar's unknown years), so they are never computed once at load.

A decision's warnings are collected by `warn` into the list of the evaluation in
progress (`collecting_warnings`, a context variable set by engine.evaluation.evaluate): a value of
its own, never a key among the facts.
"""
from __future__ import annotations

from calendar import monthrange
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

from engine.errors import ExpressionError
from engine.types import BOOLEAN, CHINA, DATE, DATETIME, DECIMAL, INTEGER, MONEY, NULL, Type, money

MAX_WORKING_DAYS = 3660  # a guard against runaway counts, not a policy figure: ten years of days


_WARNINGS: ContextVar[list | None] = ContextVar("aftersales_decision_warnings", default=None)


def warn(message: str, once: bool = False) -> None:
    """Add `message` to the warnings of the decision being made (`once`: unless it is there).
    Outside an evaluation (a constant computed at load) there is no decision to warn."""
    sink = _WARNINGS.get()
    if sink is not None and not (once and message in sink):
        sink.append(message)


class collecting_warnings:
    """The list `warn` adds to while the block runs (one evaluation); a class, not a generator
    context manager, because it wraps every decision."""

    __slots__ = ("sink", "token")

    def __enter__(self) -> list:
        self.sink: list[str] = []
        self.token = _WARNINGS.set(self.sink)
        return self.sink

    def __exit__(self, *exc) -> None:
        _WARNINGS.reset(self.token)


@dataclass(frozen=True)
class Function:
    name: str
    check_args: Callable[[str, list[Type]], Type]  # (name, argument types) → result type
    impl: Callable
    warns: bool = False
    null_safe: bool = False  # called even when an argument is null
    grows: bool = False  # its result can be larger than its arguments (the expression compiler bounds it)

    def check(self, types: list[Type]) -> Type:
        return self.check_args(self.name, types)


def unify(types: list[Type], what: str) -> Type:
    """The common type of values that may stand in one place (branches, min/max, list items)."""
    real = [t for t in types if t.kind not in ("null", "any")]
    if not real:
        return types[0] if types else NULL
    kinds = {t.kind for t in real}
    if kinds <= {"integer", "decimal", "money"}:
        return MONEY if "money" in kinds else DECIMAL if "decimal" in kinds else INTEGER
    if kinds <= {"string", "enum"}:
        enums = [t for t in real if t.kind == "enum"]
        if len(kinds) == 1 and enums:
            values = tuple(dict.fromkeys(v for t in enums for v in t.values))
            return Type("enum", values=values)
        return Type("string")
    if kinds == {"list"}:
        return Type("list", item=unify([t.item for t in real], what))
    if len(kinds) == 1:
        return real[0]
    raise ExpressionError(f"{what} mixes {' and '.join(sorted(kinds))}")


def _arity(name, types, lo, hi=None):
    hi = lo if hi is None else hi
    if not lo <= len(types) <= hi:
        want = f"{lo}" if lo == hi else f"{lo} to {hi}"
        raise ExpressionError(f"{name}() takes {want} arguments, got {len(types)}")


def _want(name, i, t: Type, *kinds):
    if t.kind not in kinds and t.kind not in ("null", "any"):
        raise ExpressionError(f"{name}() argument {i + 1} must be {' or '.join(kinds)}, not {t}")


def _sig(*kinds_per_arg, returns):
    """A checker for a fixed signature: each argument one of the given kinds."""
    def check(name, types):
        _arity(name, types, len(kinds_per_arg))
        for i, (t, kinds) in enumerate(zip(types, kinds_per_arg)):
            _want(name, i, t, *kinds)
        return returns(types) if callable(returns) else returns
    return check


NUM = ("integer", "decimal", "money")


def _numbers_or_list(name, types):
    if len(types) == 1 and types[0].kind == "list":
        item = types[0].item
        _want(name, 0, item, *NUM, "date", "datetime")
        return item
    if len(types) < 2:
        raise ExpressionError(f"{name}() takes a list or at least two values")
    for i, t in enumerate(types):
        _want(name, i, t, *NUM, "date", "datetime")
    return unify(types, f"{name}()")


def _list_of_numbers(result):
    def check(name, types):
        _arity(name, types, 1)
        if types[0].kind != "list" or types[0].item.kind not in NUM:
            raise ExpressionError(f"{name}() takes a list of numbers, not {types[0]}")
        return result(types[0].item)
    return check


def _clamp_check(name, types):
    _arity(name, types, 3)
    for i, t in enumerate(types):
        _want(name, i, t, *NUM)
    return unify(types, f"{name}()")


def _minmax(fn):
    def impl(*args):
        values = args[0] if len(args) == 1 else args
        values = [v for v in values if v is not None]
        if len(values) != (len(args[0]) if len(args) == 1 else len(args)) or not values:
            return None
        return fn(values)
    return impl


def _mean(values):
    if not values or any(v is None for v in values):
        return None
    return sum(values, Decimal(0)) / len(values)


def _sum(values):
    if any(v is None for v in values):
        return None
    return sum(values, Decimal(0)) if values else Decimal(0)


def add_months(d: date, n: int) -> date:
    """`n` calendar months after `d`, the day kept or cut to the month's last (Jan 31 + 1 = Feb 28/29):
    dateutil's relativedelta(months=n), without its cost (5–8 % of a warranty decision profiled)."""
    year, month = divmod(d.year * 12 + d.month - 1 + n, 12)
    month += 1
    if d.day <= 28:
        return d.replace(year=year, month=month)
    return d.replace(year=year, month=month, day=min(d.day, monthrange(year, month)[1]))


def months_between(a: date, b: date) -> int:
    """Full calendar months from a to b: the largest k with add_months(a, k) <= b."""
    if b < a:
        return -months_between(b, a)
    k = (b.year - a.year) * 12 + b.month - a.month
    while k > 0 and add_months(a, k) > b:
        k -= 1
    return k


def _round(x, places):
    return Decimal(x).quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)


def _to_dt(t):
    return t if isinstance(t, datetime) else datetime.combine(t, time(0), CHINA)


def _hours(a, b):
    return Decimal((b - a) // timedelta(seconds=1)) / 3600


def _minutes(a, b):
    return Decimal((b - a) // timedelta(seconds=1)) / 60


def _warn_unknown(years):
    for y in sorted(years):
        warn(f"{y} 年的法定节假日安排未知，工作日按周一至周五计算 "
             f"(working days in {y} counted Monday–Friday; add {y} to rules/calendar.yaml)", once=True)


def make_calendar_functions(calendar):
    def working_days_after(t, n):
        if not 0 <= n <= MAX_WORKING_DAYS:
            raise ValueError(f"{n} working days is outside 0–{MAX_WORKING_DAYS}")
        result, unknown = calendar.end_of_working_day(_to_dt(t), int(n))
        _warn_unknown(unknown)
        return result

    def is_working_day(d):
        working, known = calendar.is_working_day(d)
        if not known:
            _warn_unknown({d.year})
        return working
    return working_days_after, is_working_day


def _given_check(name, types):
    _arity(name, types, 1)
    return BOOLEAN


def _coalesce_check(name, types):
    if not types:
        raise ExpressionError("coalesce() takes at least one value")
    return unify(types, "coalesce()")


def _coalesce(*args):
    for a in args:  # (a loop: a generator costs more than the call, which is frequent)
        if a is not None:
            return a
    return None


def builtin_functions(calendar) -> dict[str, Function]:
    working_days_after, is_working_day = make_calendar_functions(calendar)
    table = [
        ("days_between", _sig(("date",), ("date",), returns=INTEGER), lambda a, b: (b - a).days),
        ("add_days", _sig(("date",), ("integer",), returns=DATE), lambda d, n: d + timedelta(days=n)),
        ("add_months", _sig(("date",), ("integer",), returns=DATE), add_months),
        ("add_years", _sig(("date",), ("integer",), returns=DATE), lambda d, n: add_months(d, 12 * n)),
        ("months_between", _sig(("date",), ("date",), returns=INTEGER), months_between),
        ("add_hours", _sig(("datetime",), NUM, returns=DATETIME),
         lambda t, h: t + timedelta(seconds=int(Decimal(h) * 3600))),
        ("add_minutes", _sig(("datetime",), NUM, returns=DATETIME),
         lambda t, m: t + timedelta(seconds=int(Decimal(m) * 60))),
        ("hours_between", _sig(("datetime",), ("datetime",), returns=DECIMAL), _hours),
        ("minutes_between", _sig(("datetime",), ("datetime",), returns=DECIMAL), _minutes),
        ("date", _sig(("datetime",), returns=DATE), lambda t: t.astimezone(CHINA).date()),
        ("start_of_day", _sig(("date",), returns=DATETIME), lambda d: datetime.combine(d, time(0), CHINA)),
        ("end_of_day", _sig(("date",), returns=DATETIME), lambda d: datetime.combine(d, time(23, 59, 59), CHINA)),
        ("abs", _sig(NUM, returns=lambda ts: ts[0]), abs),
        ("round_money", _sig(NUM, returns=MONEY), lambda x: money(Decimal(x))),
        ("round", _sig(NUM, ("integer",), returns=DECIMAL), _round),
        ("sum", _list_of_numbers(lambda item: item), _sum),
        ("mean", _list_of_numbers(lambda item: MONEY if item.kind == "money" else DECIMAL), _mean),
        ("count", _sig(("list",), returns=INTEGER), len),
        ("clamp", _clamp_check, lambda x, lo, hi: max(lo, min(hi, x))),
        ("min", _numbers_or_list, _minmax(min)),
        ("max", _numbers_or_list, _minmax(max)),
    ]
    fns = {name: Function(name, check, impl, grows=name == "sum") for name, check, impl in table}
    fns["working_days_after"] = Function(
        "working_days_after", _sig(("datetime", "date"), ("integer",), returns=DATETIME),
        working_days_after, warns=True)
    fns["is_working_day"] = Function(
        "is_working_day", _sig(("date",), returns=BOOLEAN), is_working_day, warns=True)
    fns["given"] = Function("given", _given_check, lambda x: x is not None, null_safe=True)
    fns["coalesce"] = Function("coalesce", _coalesce_check, _coalesce, null_safe=True)
    return fns


CALENDAR_FUNCTIONS = frozenset({"working_days_after", "is_working_day"})
# `lookup` and `date('…')` are handled by the expression compiler: their first
# argument must be a table name / a literal, known at load time.
