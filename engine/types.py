"""The value types of the rule language: how case values are read and results written.

Inside the engine values are Python objects of exact types: `int`, `Decimal`
(money and decimals — never float), `date`, timezone-aware `datetime`, `str`,
`bool`, lists. At the edges they are JSON: `parse_value` reads a case field,
`to_json` writes a result field (money with two decimals, half-up).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST since 1991: a fixed offset
CENT = Decimal("0.01")
_OFFSET = re.compile(r"T.*[+-](?P<h>\d{2}):?(?P<m>\d{2})$")

SCALARS = ("string", "enum", "integer", "decimal", "money", "date", "datetime", "boolean")
ALIASES = {"date-time": "datetime", "number": "decimal", "bool": "boolean", "int": "integer", "str": "string"}
NUMERIC = ("integer", "decimal", "money")


@dataclass(frozen=True)
class Type:
    """A type of the rule language. `item` for lists, `values` for enums."""

    kind: str
    item: "Type | None" = None
    values: tuple = ()

    def __str__(self) -> str:
        if self.kind == "list":
            return f"list of {self.item}"
        return self.kind

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC


STRING, INTEGER, DECIMAL, MONEY = Type("string"), Type("integer"), Type("decimal"), Type("money")
DATE, DATETIME, BOOLEAN, NULL, ANY = Type("date"), Type("datetime"), Type("boolean"), Type("null"), Type("any")
TABLE = Type("table")


def money(x: Decimal) -> Decimal:
    """Round half-up to the fen (0.01)."""
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_date(text: str) -> date:
    if not isinstance(text, str) or len(text) != 10:
        raise ValueError("expected a date YYYY-MM-DD")
    return date.fromisoformat(text)


def parse_datetime(text: str) -> datetime:
    """ISO 8601; without an offset the time is China time; a date alone is 00:00 China time."""
    if not isinstance(text, str):
        raise ValueError("expected a date-time like 2026-09-30T10:00:00+08:00")
    try:
        if len(text) == 10:
            return datetime.combine(parse_date(text), time(0), CHINA)
        offset = _OFFSET.search(text)
        if offset and (int(offset["h"]) > 14 or int(offset["m"]) > 59):
            raise ValueError
        value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError("expected a date-time like 2026-09-30T10:00:00+08:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA)
    return value.astimezone(CHINA)


def _decimal(value) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    if isinstance(value, float):
        value = repr(value)
    try:
        d = Decimal(value) if isinstance(value, (int, str, Decimal)) else None
    except InvalidOperation:
        d = None
    if d is None or not d.is_finite():
        raise ValueError("expected a number")
    return d


def parse_value(value, t: Type):
    """Read a JSON value as type `t`; raise ValueError with a message for a person."""
    k = t.kind
    if k in ("string", "enum"):
        if not isinstance(value, str):
            raise ValueError("expected text")
        if k == "enum" and value not in t.values:
            raise ValueError(f"must be one of: {', '.join(t.values)}")
        return value
    if k == "boolean":
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if k == "integer":
        if isinstance(value, bool):
            raise ValueError("expected a whole number")
        if isinstance(value, int):
            return value
        d = _decimal(value) if isinstance(value, (float, Decimal)) else None
        if d is None or d != d.to_integral_value():
            raise ValueError("expected a whole number")
        return int(d)
    if k == "decimal":
        return _decimal(value)
    if k == "money":
        d = _decimal(value)
        if d.as_tuple().exponent < -2:
            raise ValueError("money has at most two decimals (fen)")
        return d
    if k == "date":
        try:
            return parse_date(value)
        except (ValueError, TypeError):
            raise ValueError("expected a date YYYY-MM-DD") from None
    if k == "datetime":
        return parse_datetime(value)
    if k == "list":
        if not isinstance(value, list):
            raise ValueError("expected a list")
        out = []
        for i, item in enumerate(value):
            try:
                out.append(parse_value(item, t.item))
            except ValueError as e:
                raise ValueError(f"item {i}: {e}") from None
        return out
    raise ValueError(f"unsupported type {t}")


_AS_IS = frozenset(("boolean", "integer", "string", "enum", "any"))


def to_json(value, t: Type):
    """Write a typed value the way the API contract shows it."""
    if value is None:
        return None
    k = t.kind
    if k in _AS_IS and value.__class__ in (bool, int, str):  # the commonest case, first
        return value
    if k == "money":
        return f"{money(Decimal(value)):f}"
    if k == "decimal":
        d = Decimal(value)
        return f"{d.normalize():f}" if d == d.to_integral_value() else f"{d:f}"
    if k == "date":
        return value.isoformat()
    if k == "datetime":
        return value.astimezone(CHINA).isoformat()
    if k == "list":
        return [to_json(v, t.item) for v in value]
    if isinstance(value, Decimal):  # e.g. an `any`-typed value
        return f"{value:f}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value
