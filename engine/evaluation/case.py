"""Read a case (JSON object) against a rule set's declared inputs.

`read_case` is the one reader the CLI, the API and the rule tests share. Every bad
field is reported at once: unknown fields are rejected (never silently ignored),
required ones named, values checked against type, bounds and allowed values. The
`inputs` declaration is also turned, once per rule set, into a marshmallow schema
(`case_schema`), used only as the source of the OpenAPI document.
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from itertools import accumulate

from marshmallow import RAISE, Schema, ValidationError, fields

from engine.errors import CaseError, did_you_mean
from engine.model import Input, RuleSet
from engine.types import (CHINA, MAX_JSON_DEPTH, MAX_SCALAR_TEXT, MAX_TEXT, LongNumber, Type, in_range,
                    parse_datetime, parse_value, to_json)

_MONEY_PATTERN = r"^-?\d+(\.\d{1,2})?$"
NOT_AN_OBJECT = "expected an object of case fields"


class JsonInputError(ValueError):
    """Text that is not JSON the engine reads; `where` is (line, column) when the place is known."""

    def __init__(self, message: str, where: tuple | None = None):
        self.message, self.where = message, where
        super().__init__(f"line {where[0]} column {where[1]}: {message}" if where else message)


def load_json(text: str):
    """JSON text (a request body, a case file) → Python values, bounded before anything is built:
    nesting (MAX_JSON_DEPTH, checked before parsing), numbers (longer than MAX_SCALAR_TEXT are
    kept unconverted as LongNumber, for the case reader to name their field; fractions are
    exact Decimals), each key once per object, no NaN or Infinity. Text no database can store
    (NUL, a lone UTF-16 surrogate such as \\ud800) is a CaseError naming the path of its field."""
    _check_depth(text)
    try:
        data = json.loads(text, parse_int=_int, parse_float=_decimal, parse_constant=_constant,
                          object_pairs_hook=_object)
    except json.JSONDecodeError as e:
        raise JsonInputError(e.msg, (e.lineno, e.colno)) from None
    if _SUSPECT.search(text):  # escapes only: UTF-8 text itself cannot hold a lone surrogate
        errors = {}
        _find_bad_text(data, "", errors)
        if errors:
            raise CaseError(errors)
    return data


def _int(text: str):
    return int(text) if len(text) <= MAX_SCALAR_TEXT else LongNumber(text)


def _decimal(text: str):
    return Decimal(text) if len(text) <= MAX_SCALAR_TEXT else LongNumber(text)


def _constant(name: str):
    raise JsonInputError(f"{name} is not a JSON number")


def _object(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonInputError(f"the key {key!r} appears twice in one object")
            seen.add(key)
    return obj


_BRACKETS = {"[": 1, "{": 1, "]": -1, "}": -1}
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_SUSPECT = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH, naming where it starts; in C-speed passes
    over the text (strings, whose brackets do not nest, removed first) unless it is short."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    if max(accumulate(map(_BRACKETS.__getitem__, brackets)), default=0) <= MAX_JSON_DEPTH:
        return
    depth = 0
    for m in _TOKENS.finditer(text):
        depth += _BRACKETS.get(m.group(), 0)
        if depth > MAX_JSON_DEPTH:
            pos = m.start()
            where = text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos)
            raise JsonInputError(f"nested deeper than {MAX_JSON_DEPTH} levels", where)


def _find_bad_text(value, path: str, errors: dict) -> None:
    """Each string (key or value) under `value` that holds NUL or a lone surrogate → errors[path]."""
    if isinstance(value, str):
        if "\x00" in value:
            errors[path or "(body)"] = ["text may not contain NUL characters"]
        elif not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as e:
                errors[path or "(body)"] = [f"text holds a lone surrogate \\u{ord(value[e.start]):04x}, "
                                            "which is not Unicode"]
    elif isinstance(value, dict):
        for key, item in value.items():
            name = key.encode("utf-8", "backslashreplace").decode("utf-8")  # a path that can be written out
            where = f"{path}.{name}" if path else name
            _find_bad_text(key, where, errors)
            _find_bad_text(item, where, errors)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _find_bad_text(item, f"{path}[{i}]", errors)


def json_schema(t: Type) -> dict:
    """The JSON Schema (OpenAPI 3.0) of a value of type t, as the API accepts it."""
    k = t.kind
    if k == "enum":
        return {"type": "string", "enum": list(t.values)}
    if k == "string":
        return {"type": "string"}
    if k == "integer":
        return {"type": "integer"}
    if k == "boolean":
        return {"type": "boolean"}
    if k == "money":
        return {"oneOf": [{"type": "string", "pattern": _MONEY_PATTERN}, {"type": "number", "multipleOf": 0.01}]}
    if k == "decimal":
        return {"oneOf": [{"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}, {"type": "number"}]}
    if k == "date":
        return {"type": "string", "format": "date"}
    if k == "datetime":
        return {"type": "string", "format": "date-time"}
    if k == "list":
        return {"type": "array", "items": json_schema(t.item)}
    return {}


class InputField(fields.Field):
    """A case field read by the engine's own parser (`engine.types.parse_value`)."""

    def __init__(self, inp: Input):
        meta = json_schema(inp.type) | {"title": inp.title or inp.name}
        if inp.description:
            meta["description"] = inp.description
        if inp.minimum is not None:
            meta["minimum"] = float(inp.minimum) if inp.type.kind != "integer" else int(inp.minimum)
        if inp.maximum is not None:
            meta["maximum"] = float(inp.maximum) if inp.type.kind != "integer" else int(inp.maximum)
        if inp.min_items is not None:
            meta["minItems"] = inp.min_items
        if inp.max_items is not None:
            meta["maxItems"] = inp.max_items
        if inp.pii:
            meta["x-pii"] = True
        if inp.default is not None:
            meta["default"] = to_json(inp.default, inp.type)
        extra = {} if inp.required else {"load_default": inp.default}
        super().__init__(required=inp.required, allow_none=not inp.required, metadata=meta,
                         error_messages={"required": "is required", "null": "is required"}, **extra)
        self.input = inp

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            parsed = parse_value(value, self.input.type)
        except ValueError as e:
            raise ValidationError(str(e)) from None
        problem = _bounds(self.input, parsed)
        if problem:
            raise ValidationError(problem)
        return parsed


def case_schema(ruleset_name: str, inputs: dict[str, Input]) -> Schema:
    cls = Schema.from_dict({name: InputField(inp) for name, inp in inputs.items()},
                           name=f"{ruleset_name.title().replace('_', '')}Case")
    return cls(unknown=RAISE)


def read_case(ruleset: RuleSet, raw) -> dict:
    """JSON case → typed values for every declared input (None where absent).

    The one case reader. The marshmallow schema of the same declaration (`case_schema`) is
    only the source of the OpenAPI document (api/openapi.py): its per-field machinery
    cost a fifth of a decision (bench/RESULTS.md)."""
    if not isinstance(raw, dict):
        raise CaseError({"case": [NOT_AN_OBJECT]})
    inputs = ruleset.inputs
    values, errors = {}, {}
    for name, inp in inputs.items():
        value = raw.get(name)
        if value is None:  # absent, or an explicit null: "not given", the default
            if inp.required:
                errors[name] = ["is required"]
            values[name] = inp.default
            continue
        kind = inp.type.kind
        if value.__class__ is bool and kind == "boolean" or value.__class__ is str and (
                kind == "string" and len(value) <= MAX_TEXT or kind == "enum" and value in inp.type.values):
            values[name] = value  # the commonest fields, as parse_value would read them (no bounds apply)
            continue
        try:
            parsed = parse_value(value, inp.type)
        except ValueError as e:
            errors[name] = [str(e)]
            continue
        problem = _bounds(inp, parsed)
        if problem:
            errors[name] = [problem]
        else:
            values[name] = parsed
    if not raw.keys() <= inputs.keys():
        for name in raw:
            if name not in inputs:
                errors[name] = [f"unknown field for rule set {ruleset.name}{did_you_mean(name, inputs)}"]
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
    try:
        if isinstance(value, datetime):
            return in_range(value)
        if isinstance(value, str) and len(value) <= AS_OF_CACHED_CHARS:
            return _parse_as_of(value)
        return parse_datetime(value)
    except ValueError as e:
        raise CaseError({"as_of": [str(e)]}) from None


# as_of texts repeat (a day's or a batch's decisions, an impact corpus): each distinct one is
# parsed once. Bounded: at most AS_OF_CACHE texts of at most AS_OF_CACHED_CHARS each (an ISO
# date-time with an offset and microseconds is 32); datetimes are immutable, so sharing is safe.
AS_OF_CACHE = 4096
AS_OF_CACHED_CHARS = 40
_parse_as_of = lru_cache(maxsize=AS_OF_CACHE)(parse_datetime)
