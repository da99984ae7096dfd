"""The value types of the rule language: how case values are read and results written.

Inside the engine values are Python objects of exact types: `int`, `Decimal`
(money and decimals — never float), `date`, timezone-aware `datetime`, `str`,
`bool`, lists. At the edges they are JSON: `parse_value` reads a case field,
`to_json` writes a result field (money with two decimals, half-up). What is read is
bounded first (the MAX_ constants below): size, magnitude, decimals and years.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST since 1991: a fixed offset
CENT = Decimal("0.01")

# Bounds on the values a case (or a rule file) may hold, checked before a value is converted
# or computed with: hostile input must cost microseconds and end in a message naming the field,
# never in a minute of int() with the GIL held, a Decimal overflow or a date out of Python's range.
MAX_SCALAR_TEXT = 40
"""Characters of a number, date or date-time written as text (a JSON number, "1234.50",
"2026-09-30T10:00:00.123456+08:00" is 32): nobody writes a longer one."""
MAX_DIGITS = 15
"""A number's magnitude stays below 10**15 (a quadrillion yuan, tonnes or days). Money then
has at most 17 digits with its fen, so a product with a rate still fits the 28 digits of
Decimal's default context, and an integer never reaches int()'s slow path."""
MAX_DECIMALS = 20
"""Places after the point of a number's first significant digit: 1E-999999 would otherwise
be written out as a million zeros in every answer and log entry that shows it."""
MIN_YEAR, MAX_YEAR = 1900, 2199
"""Dates and date-times (in China time) the service reads: wide enough for any purchase,
factory or deadline date, and far from Python's limits (years 1 and 9999), which converting
an offset or adding a warranty period would otherwise cross with an OverflowError."""
EARLIEST = datetime(MIN_YEAR, 1, 1, tzinfo=CHINA)
LATEST = datetime(MAX_YEAR, 12, 31, 23, 59, 59, 999999, tzinfo=CHINA)
MAX_TEXT = 10_000
"""Characters of a text input (a reason, a name): far above any field of the four rule sets,
far below what the matching engine or the decision log should ever be handed."""
MAX_JSON_DEPTH = 32
"""Nesting of arrays and objects in a request body or case file: a batch of cases with list
inputs is 4 deep. Checked before parsing, as the JSON parser's own limit is the Python
recursion limit, which depends on the caller's stack."""
MAX_ITEMS = 1_000
"""Items of a list input without its own `max_items` (a price per metal grade, …)."""
_BIG = 10 ** MAX_DIGITS
_OFFSET = re.compile(r"T.*[+-](?P<h>\d{2}):?(?P<m>\d{2})$")

SCALARS = ("string", "enum", "integer", "decimal", "money", "date", "datetime", "boolean")
ALIASES = {"date-time": "datetime", "number": "decimal", "bool": "boolean", "int": "integer", "str": "string"}
NUMERIC = ("integer", "decimal", "money")


@dataclass(frozen=True)
class Type:
    """A type of the rule language. `item` for lists, `values` for enums (their codes, which
    the API accepts and returns) and `labels` (code, label) pairs: the words people read, which
    leave a type's equality alone (two enums with the same codes are one type)."""

    kind: str
    item: "Type | None" = None
    values: tuple = ()
    labels: tuple = field(default=(), compare=False)

    def __str__(self) -> str:
        if self.kind == "list":
            return f"list of {self.item}"
        return self.kind

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC

    def label(self, code: str) -> str:
        """The label of an enum code (the code itself when the rule set gives none)."""
        return next((text for c, text in self.labels if c == code), code)

    def choices(self) -> str:
        """The codes with their labels, for a message: `repair（修理）, return（退货）`."""
        return ", ".join(v if self.label(v) == v else f"{v}（{self.label(v)}）" for v in self.values)


STRING, INTEGER, DECIMAL, MONEY = Type("string"), Type("integer"), Type("decimal"), Type("money")
DATE, DATETIME, BOOLEAN, NULL, ANY = Type("date"), Type("datetime"), Type("boolean"), Type("null"), Type("any")
TABLE = Type("table")


def money(x: Decimal) -> Decimal:
    """Round half-up to the fen (0.01)."""
    return x.quantize(CENT, ROUND_HALF_UP)  # (positional: a keyword costs twice as much here)


def plain(d: Decimal) -> str:
    """A Decimal written out in full, and never as a negative zero ("-0.00" is 0.00)."""
    return f"{d:f}" if d else f"{d.copy_abs():f}"


_RANGE = f"between {MIN_YEAR}-01-01 and {MAX_YEAR}-12-31"
_DATE = "expected a date YYYY-MM-DD"
_DATETIME = "expected a date-time like 2026-09-30T10:00:00+08:00"


def _is_ymd(text: str) -> bool:
    """Starts as YYYY-MM-DD does: date.fromisoformat, which checks the digits, also takes the
    week date 2026-W11-2 and 20260310, which have no '-' at both of these places."""
    return text[4:5] == "-" and text[7:8] == "-"


def parse_date(text: str) -> date:
    if not isinstance(text, str) or len(text) != 10 or not _is_ymd(text):
        raise ValueError(_DATE)
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise ValueError(_DATE) from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"expected a date {_RANGE}")
    return value


def parse_datetime(text: str) -> datetime:
    """ISO 8601 with the date as YYYY-MM-DD; without an offset the time is China time; a date
    alone is 00:00 China time. Only moments from MIN_YEAR to MAX_YEAR (China time)."""
    if not isinstance(text, str) or len(text) < 10 or not _is_ymd(text):
        raise ValueError(_DATETIME)
    try:
        if len(text) == 10:
            value = datetime.combine(date.fromisoformat(text), time(0))
        else:
            if len(text) > MAX_SCALAR_TEXT or text[10] not in ("T", "t", " "):
                raise ValueError
            offset = _OFFSET.search(text)
            if offset and (int(offset["h"]) > 14 or int(offset["m"]) > 59):
                raise ValueError
            value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(_DATETIME) from None
    return in_range(value)


def in_range(value: datetime) -> datetime:
    """An aware (or China-time) date-time as China time, if it lies within MIN_YEAR–MAX_YEAR.
    (Comparing aware date-times cannot overflow; converting year 9999 at -10:00 can.)"""
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA)
    # a year strictly inside the range is inside it at any offset (offsets are under a day)
    if not MIN_YEAR < value.year < MAX_YEAR and not EARLIEST <= value <= LATEST:
        raise ValueError(f"expected a date-time {_RANGE} (China time)")
    return value.astimezone(CHINA)


class LongNumber:
    """A JSON number longer than MAX_SCALAR_TEXT, left unconverted by the JSON reader so that
    the field holding it can be named (engine.evaluation.case.load_json)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


_TOO_LONG = f"a number of at most {MAX_SCALAR_TEXT} characters"
_TOO_BIG = f"is too large: at most {MAX_DIGITS} digits before the decimal point"


def _decimal(value) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    if isinstance(value, float):
        value = repr(value)
    elif isinstance(value, str) and len(value) > MAX_SCALAR_TEXT or value.__class__ is LongNumber:
        raise ValueError(f"expected {_TOO_LONG}")
    try:
        d = Decimal(value) if isinstance(value, (int, str, Decimal)) else None
    except InvalidOperation:
        d = None
    if d is None or not d.is_finite():
        raise ValueError("expected a number")
    if d:
        adjusted = d.adjusted()  # the place of the first significant digit
        if adjusted >= MAX_DIGITS:
            raise ValueError(_TOO_BIG)
        if adjusted < -MAX_DECIMALS:
            raise ValueError(f"is too small: its first digit is more than {MAX_DECIMALS} places after the point")
    elif not -MAX_DECIMALS <= d.as_tuple().exponent < MAX_DIGITS:  # 0E+99999: written out, all zeros
        raise ValueError("expected a number")
    return d


def parse_value(value, t: Type):
    """Read a JSON value as type `t`; raise ValueError with a message for a person."""
    k = t.kind
    if k in ("string", "enum"):
        if not isinstance(value, str):
            raise ValueError("expected text")
        if k == "enum" and value not in t.values:
            if value.strip() in t.values:  # "新疆 ": the intent is unambiguous
                return value.strip()
            raise ValueError(f"must be one of: {t.choices()}")
        if len(value) > MAX_TEXT:
            raise ValueError(f"is longer than {MAX_TEXT:,} characters")
        return value
    if k == "boolean":
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if k == "integer":
        if isinstance(value, bool):
            raise ValueError("expected a whole number")
        if isinstance(value, int):
            if -_BIG < value < _BIG:
                return value
            raise ValueError(_TOO_BIG)
        d = _decimal(value) if isinstance(value, (float, Decimal, LongNumber)) else None
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
        return parse_date(value)
    if k == "datetime":
        return parse_datetime(value)
    if k == "list":
        if not isinstance(value, list):
            raise ValueError("expected a list")
        if len(value) > MAX_ITEMS:
            raise ValueError(f"takes at most {MAX_ITEMS:,} items")
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
        return plain(money(Decimal(value)))
    if k == "decimal":
        d = Decimal(value)
        return plain(d.normalize() if d == d.to_integral_value() else d)
    if k == "date":
        return value.isoformat()
    if k == "datetime":
        return (value if value.tzinfo is CHINA else value.astimezone(CHINA)).isoformat()
    if k == "list":
        return [to_json(v, t.item) for v in value]
    if isinstance(value, Decimal):  # e.g. an `any`-typed value
        return plain(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value
