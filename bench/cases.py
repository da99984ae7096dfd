"""Valid generated cases for benchmarks, fast and repeatable (a seed gives the same cases).

The values follow the strategies of tests/test_backends_agree.py (the differential
tests' generator: every input of a rule set from its own declaration, table keys for
text, optional inputs absent half the time), drawn with `random` instead of
hypothesis, which takes ~3 ms per case and gives mostly invalid warranty cases (4%
valid). A case the rule set rejects is repaired: the optional fields the errors name
are dropped, and it is tried again; a case whose required field is bad is drawn anew.
So the cases are the generator's, slightly biased towards fewer optional fields.

    cases = valid_cases(book, "warranty", 10_000, seed=1)   # [(case, as_of), ...]
"""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from engine.errors import CaseError, DecisionConflict
from engine.types import CHINA

AS_OF_RANGE = (datetime(2019, 1, 1), datetime(2027, 6, 30))
DATE_RANGE = (date(2018, 1, 1), date(2027, 6, 30))
DATETIME_RANGE = (datetime(2025, 9, 1), datetime(2027, 1, 31))


def _datetime(rng, lo: datetime, hi: datetime) -> str:
    seconds = rng.randrange(int((hi - lo).total_seconds()))
    return (lo + timedelta(seconds=seconds)).replace(tzinfo=CHINA).isoformat()


def _strings(ruleset) -> list:
    keys = {k for t in ruleset.tables.values() for k in t.rows if isinstance(k, str)}
    return sorted(keys | {"浙江", "其他"})


def _value(rng, inp, ruleset, t=None):
    t = t or inp.type
    k = t.kind
    if k == "enum":
        return rng.choice(t.values)
    if k == "boolean":
        return rng.random() < 0.5
    if k == "integer":
        lo = int(inp.minimum) if inp.minimum is not None else 0
        hi = int(inp.maximum) if inp.maximum is not None else 200_000
        return rng.randint(lo, min(hi, lo + 100)) if rng.random() < 0.5 else rng.randint(lo, hi)
    if k in ("decimal", "money"):
        lo = inp.minimum if inp.minimum is not None else Decimal(0)
        hi = inp.maximum if inp.maximum is not None else Decimal(100_000)
        places = 2 if k == "money" else 3
        scale = 10 ** places
        n = rng.randint(int(lo * scale), int(hi * scale))
        return str(Decimal(n).scaleb(-places))
    if k == "date":
        lo, hi = DATE_RANGE
        return (lo + timedelta(days=rng.randrange((hi - lo).days + 1))).isoformat()
    if k == "datetime":
        return _datetime(rng, *DATETIME_RANGE)
    if k == "string":
        return rng.choice(_strings(ruleset))
    if k == "list":
        lo = inp.min_items or 0
        return [_value(rng, inp, ruleset, t.item) for _ in range(rng.randint(lo, max(lo, 4)))]
    raise AssertionError(f"no generator for {t}")


def draw(rng, ruleset) -> tuple[dict, str]:
    case = {}
    for name, inp in ruleset.inputs.items():
        if inp.required or rng.random() < 0.5:
            case[name] = _value(rng, inp, ruleset)
    return case, _datetime(rng, *AS_OF_RANGE)


def valid_cases(book, name: str, n: int, seed: int = 1, tries: int = 4) -> list:
    """n (case, as_of) pairs that `book` decides without a CaseError or a conflict."""
    loaded = book.get(name)
    rs = loaded.ruleset
    rng = random.Random(f"{name}:{seed}")
    out = []
    while len(out) < n:
        case, as_of = draw(rng, rs)
        for _ in range(tries):
            try:
                loaded.decide(case, as_of=as_of)
            except CaseError as e:
                bad = set(e.errors)
                if bad & {n for n, i in rs.inputs.items() if i.required} or not bad <= set(case):
                    break
                case = {k: v for k, v in case.items() if k not in bad}
                continue
            except DecisionConflict:
                break
            out.append((case, as_of))
            break
    return out
