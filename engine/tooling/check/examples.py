"""The example case a finding of `aftersales check` shows: the simplest one seen is kept, and
shown as JSON would carry it."""
from __future__ import annotations

import json
from decimal import Decimal


def size(example) -> tuple:
    case, _ = example
    return (len(case), len(json.dumps(case, default=str)))


def simpler(a, b):
    return b if size(b) < size(a) else a


def _plain_json(value):
    """A case as JSON would carry it (the rule tests' exact decimals become strings)."""
    if isinstance(value, dict):
        return {k: _plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    if isinstance(value, Decimal):
        return f"{value:f}"
    return value


def shown(example) -> dict | None:
    if example is None:
        return None
    case, as_of = example
    return {"as_of": as_of.isoformat(), "case": _plain_json(case)}


