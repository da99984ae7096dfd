"""JSON out: UTF-8 as is (Chinese stays readable), Decimals as strings, never floats."""
from __future__ import annotations

import json
from decimal import Decimal


def _default(o):
    if isinstance(o, Decimal):
        return f"{o:f}"
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, default=_default, separators=(",", ":"))


def loads(text):
    """Numbers with a fraction are read as exact Decimals."""
    return json.loads(text, parse_float=Decimal)
