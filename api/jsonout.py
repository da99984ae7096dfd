"""JSON in (engine.evaluation.case.load_json, bounded) and out: UTF-8 as is (Chinese stays readable), Decimals as
strings, never floats."""
from __future__ import annotations

import json
from decimal import Decimal

from engine.evaluation.case import load_json as loads  # noqa: F401 - the one bounded JSON reader, shared with the CLI
from engine.types import plain


def _default(o):
    if isinstance(o, Decimal):
        return plain(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, default=_default, separators=(",", ":"))
