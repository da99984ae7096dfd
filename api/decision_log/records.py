"""What the decision log stores: an entry, checked, masked and serialised by `prepare`.

JSON follows the API's convention (``api/jsonout``): written with ``ensure_ascii=False`` (Chinese
stays Chinese), a ``Decimal`` written as the exact JSON number it spells, and numbers with a
fraction or exponent read back as ``Decimal`` -- nothing ever passes through a binary float, and
money, which the engine already writes as strings, stays a string.  (A Python float given to
``record`` therefore comes back as the Decimal of its shortest repr: ``0.15`` -> ``Decimal("0.15")``.)
JSONB does not keep object key order, and, like JSON itself, cannot hold NaN/Infinity or a NUL
character in a string, and neither store can hold a lone surrogate (``"\\ud800"``, which is not
UTF-8): ``prepare`` refuses those on both stores with :class:`UnstorableEntry` (a ``ValueError``)
naming the field, e.g. ``case.customer_name``, rather than letting them fail inside the database.

Personal data: ``LogEntry.pii`` names the inputs marked ``pii: true`` and the facts and outputs
computed from them (api/decisions.py works them out from the rule set).  The log masks them in
one place, :func:`prepare`: every value under such a key, at any depth of the stored case and
response (case fields, ``fired[].values``, ``not_fired[].values``, outputs, ``fired[].sets``), is
stored as ``"***"`` (``null`` stays ``null``).  What the caller receives is not touched.

Times are kept in UTC; :func:`format_ts` is the fixed-width ISO form both stores hand back.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from .errors import UnstorableEntry

# A decision id the service gives is a 36-character UUID; the bound also keeps every paging cursor
# short (api.decision_log.cursors).
MAX_DECISION_ID_CHARS = 128
# Nesting of a stored case or decision: far deeper than any case the inputs admit or any decision
# the engine writes, and far below Python's recursion limit for the walks and json.dumps here.
MAX_JSON_DEPTH = 100
MASK = "***"   # what the log keeps for a value of a `pii: true` input (or a value computed from one)


@dataclass
class LogEntry:
    decision_id: str
    created_at: datetime          # aware
    ruleset: str
    version: str
    digest: str
    as_of: str                    # ISO string as returned
    case: dict                    # the case as sent
    response: dict                # the full decision JSON exactly as returned to the client
    fired: list[str]
    duration_ms: float
    caller: str
    release: str | None = None    # the release decided with (None: decided before releases)
    # Names whose values the log masks (MASK) wherever they appear as a key in the stored case
    # and response: the `pii: true` inputs and the facts and outputs computed from them.
    pii: frozenset = frozenset()


@dataclass(frozen=True)
class PreparedEntry:
    """A LogEntry checked, masked and serialised (:func:`prepare`): ``record`` stores it as is."""

    row: tuple


# -- checking and serialising

def utc(dt: datetime, name: str) -> datetime:
    """dt in UTC (a naive one is taken as UTC); ValueError naming it when that leaves years 1-9999
    (``9999-12-31T23:00:00-10:00``, ``0001-01-01T00:00:00+14:00``)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        return dt.replace(tzinfo=timezone.utc)
    try:
        return dt.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{name} {dt.isoformat()} is out of range: in UTC it falls outside "
                         "the years 1 to 9999") from None


def format_ts(dt: datetime) -> str:
    """Fixed-width UTC ISO form, e.g. ``2026-11-25T01:02:03.000004Z`` (sorts as time does)."""
    u = utc(dt, "time")
    return (f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
            f".{u.microsecond:06d}Z")


def parse_ts(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


def text_problem(s: str) -> str | None:
    """Why a string cannot be stored (both stores keep UTF-8 text without NUL), or None."""
    if "\x00" in s:
        return "holds a NUL character, which the decision log cannot store"
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"holds a lone surrogate (U+{ord(s[e.start]):04X}), which is not text"
    return None


def _shown(key: str) -> str:
    """A key as it can be named in a message: a NUL or a lone surrogate written as an escape."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _find_unstorable(obj: Any, path: str, depth: int = 0) -> tuple[str, str] | None:
    """(path, problem) of the first string in obj that cannot be stored, or of nesting too deep."""
    if isinstance(obj, str):
        problem = text_problem(obj)
        return (path, problem) if problem else None
    if depth >= MAX_JSON_DEPTH and isinstance(obj, (dict, list, tuple)):
        return path, f"is nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(obj, dict):
        for k, v in obj.items():
            sub = f"{path}.{_shown(k) if isinstance(k, str) else k}"
            if isinstance(k, str) and (problem := text_problem(k)):
                return sub, f"its name {problem}"
            if found := _find_unstorable(v, sub, depth + 1):
                return found
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            if found := _find_unstorable(v, f"{path}[{i}]", depth + 1):
                return found
    return None


def _masked(obj: Any, names: frozenset, what: str, depth: int = 0) -> Any:
    """obj with the value of every key in ``names``, at any depth, replaced by MASK (None stays);
    UnstorableEntry for nesting deeper than MAX_JSON_DEPTH (nothing below it goes unmasked)."""
    if isinstance(obj, dict):
        if depth >= MAX_JSON_DEPTH:
            raise UnstorableEntry(what, f"is nested deeper than {MAX_JSON_DEPTH} levels")
        return {k: MASK if k in names and v is not None else _masked(v, names, what, depth + 1)
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        if depth >= MAX_JSON_DEPTH:
            raise UnstorableEntry(what, f"is nested deeper than {MAX_JSON_DEPTH} levels")
        return [_masked(v, names, what, depth + 1) for v in obj]
    return obj


_DECIMAL_TOKEN = re.compile(r'"\\u0000(\d+)\\u0000"')


def _dumps(obj: Any, what: str) -> str:
    """Compact UTF-8 JSON; a Decimal is written as the JSON number it spells, digit for digit.

    Raises UnstorableEntry naming the path (``case.name``) of what cannot be stored."""
    decimals: list[str] = []

    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            if not o.is_finite():
                raise ValueError(f"{o} is not a JSON number")
            decimals.append(str(o))
            return f"\x00{len(decimals) - 1}\x00"     # a placeholder no real string can be (see NUL)
        raise TypeError(f"{type(o).__name__} is not JSON serialisable")

    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                          default=default)
        text.encode("utf-8")   # a lone surrogate passes json.dumps but no store can hold it
    except (TypeError, ValueError, RecursionError) as e:
        found = _find_unstorable(obj, what)
        if found:
            raise UnstorableEntry(*found) from None
        raise UnstorableEntry(what, f"is not storable JSON: {e}") from None
    if "\\u0000" in text:
        found = _find_unstorable(obj, what)
        if found:
            raise UnstorableEntry(*found)
        text = _DECIMAL_TOKEN.sub(lambda m: decimals[int(m.group(1))], text)
    return text


def loads(text: str | bytes) -> Any:
    """Numbers with a fraction or exponent come back as exact Decimals (the API's convention)."""
    return json.loads(text, parse_float=Decimal)




def _text_field(name: str, v: Any) -> None:
    if not isinstance(v, str):
        raise UnstorableEntry(name, "must be a string")
    if problem := text_problem(v):
        raise UnstorableEntry(name, problem)


def prepare(e: LogEntry) -> PreparedEntry:
    """Check an entry, mask its personal data and serialise it, without storing it.

    Masking happens here, and only here: every value keyed by a name in ``e.pii`` anywhere in the
    case and the response (case fields, ``fired[].values``, ``not_fired[].values``, outputs, ...)
    is stored as MASK.  The case is checked before masking, so a value that could not be stored is
    named even when it is personal.  Raises UnstorableEntry (a ValueError) naming the field."""
    _text_field("decision_id", e.decision_id)
    if not e.decision_id or len(e.decision_id) > MAX_DECISION_ID_CHARS:
        raise UnstorableEntry("decision_id", f"must have 1 to {MAX_DECISION_ID_CHARS} characters")
    if not isinstance(e.created_at, datetime):
        raise UnstorableEntry("created_at", "must be a datetime")
    if e.created_at.tzinfo is None or e.created_at.utcoffset() is None:
        raise UnstorableEntry("created_at", "must be timezone-aware")
    try:
        created_at = utc(e.created_at, "created_at")
    except ValueError as err:
        raise UnstorableEntry("created_at", str(err)) from None
    fired = [str(f) for f in e.fired]
    for i, f in enumerate(fired):
        _text_field(f"fired[{i}]", f)
    try:
        duration = float(e.duration_ms)
    except (TypeError, ValueError, OverflowError):
        duration = math.nan
    if not math.isfinite(duration):
        raise UnstorableEntry("duration_ms", "must be a finite number")
    for name in ("ruleset", "version", "digest", "as_of", "caller"):
        _text_field(name, getattr(e, name))
    if e.release is not None:
        _text_field("release", e.release)
    names = frozenset(e.pii)
    if names:
        _dumps(e.case, "case")   # names a value that cannot be stored even where it is masked below
    case = _dumps(_masked(e.case, names, "case"), "case")   # the case is small: always depth-checked
    response = _dumps(_masked(e.response, names, "response") if names else e.response, "response")
    return PreparedEntry((e.decision_id, created_at, e.ruleset, e.version,
                          e.digest, e.as_of, case, response, fired, duration, e.caller, e.release))

