"""Read a case (JSON object) against a rule set's declared inputs.

One declaration drives this, the API schema, OpenAPI and the web form. Every bad
field is reported at once: unknown fields are rejected (never silently ignored),
required ones named, values checked against type, bounds and allowed values.
"""
from __future__ import annotations

import difflib
from datetime import datetime

from .errors import CaseError
from .model import RuleSet
from .types import CHINA, parse_datetime, parse_value


def read_case(ruleset: RuleSet, raw) -> dict:
    """JSON case → typed values for every declared input (None where absent)."""
    if not isinstance(raw, dict):
        raise CaseError({"case": ["expected an object of case fields"]})
    errors: dict[str, list[str]] = {}
    for name in raw:
        if name not in ruleset.inputs:
            close = difflib.get_close_matches(str(name), list(ruleset.inputs), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            errors.setdefault(str(name), []).append(f"unknown field for rule set {ruleset.name}{hint}")
    values = {}
    for name, inp in ruleset.inputs.items():
        raw_value = raw.get(name)
        if raw_value is None:
            if inp.required:
                errors.setdefault(name, []).append("is required")
            values[name] = inp.default
            continue
        try:
            value = parse_value(raw_value, inp.type)
        except ValueError as e:
            errors.setdefault(name, []).append(str(e))
            continue
        problem = _bounds(inp, value)
        if problem:
            errors.setdefault(name, []).append(problem)
            continue
        values[name] = value
    if errors:
        raise CaseError(errors)
    return values


def _bounds(inp, value) -> str | None:
    if inp.type.kind == "list":
        if inp.min_items is not None and len(value) < inp.min_items:
            return f"needs at least {inp.min_items} item{'s' if inp.min_items > 1 else ''}"
        if inp.max_items is not None and len(value) > inp.max_items:
            return f"takes at most {inp.max_items} items"
        return None
    if inp.minimum is not None and value < inp.minimum:
        return f"must be at least {inp.minimum}"
    if inp.maximum is not None and value > inp.maximum:
        return f"must be at most {inp.maximum}"
    return None


def read_as_of(value) -> datetime:
    """`as_of`: a date (00:00 China time) or date-time; default now in China time."""
    if value is None:
        return datetime.now(CHINA).replace(microsecond=0)
    if isinstance(value, datetime):
        return value.astimezone(CHINA) if value.tzinfo else value.replace(tzinfo=CHINA)
    try:
        return parse_datetime(value)
    except ValueError as e:
        raise CaseError({"as_of": [str(e)]}) from None
