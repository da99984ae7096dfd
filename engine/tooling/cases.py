"""Valid generated cases of a rule set: one generator for the benchmarks and the property tests.

The values are `aftersales check`'s boundary candidates (engine.tooling.check: for every input,
the constants the rule set compares it with, one below and one above, every enum value, both
booleans, "not given" for an optional input, a few plain values) and, for a number, values spread
across its declared range, so a new input or a new threshold is covered without touching a
generator. A case is check's base case (every required
input at a plain value, the rest not given) with one to four inputs changed to one of their
candidates, decided as of a moment spread over 2025-01-01 to 2026-11-30 (and, when the rule set's
effective date follows as_of, now and then a day around a rule's effective dates). Candidates
relative to as_of (dates "30 days before") are made concrete for each case's own as_of.

A case the inputs or validations reject is repaired: the fields the errors name go back to the
base case's value (or are dropped), at most twice; a case that stays invalid, or that ends in a
conflict, is not a valid case.

    valid_cases(book.get("warranty"), 10_000, seed=1, rules_dir=Path("rules"))   # [(case, as_of ISO text), ...]

The property tests draw the same cases with hypothesis (tests/strategies.py): `CaseGenerator.case`
takes the changes as data, so hypothesis can choose and shrink them.
"""
from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from engine.errors import CaseError, DecisionConflict
from engine.tooling.check import Analyzer, materialize, seeds_from_tests
from engine.types import CHINA

FIRST_DAY = datetime(2025, 1, 1, 9, tzinfo=CHINA)
DAYS, MINUTES = 699, 600  # as_of: a day from FIRST_DAY to 2026-11-30, between 09:00 and 19:00
REFERENCE = datetime(2026, 11, 25, 10, tzinfo=CHINA)  # the as_of of the base case and the candidates
MAX_CHANGES = 4
REPAIRS = 2
SPREAD = 16  # values across the range of a number input, besides its boundary candidates


class CaseGenerator:
    """Cases of one loaded rule set built from check's base case, the rule tests' cases and the
    boundary candidates."""

    def __init__(self, loaded, rules_dir: Path | None = None):
        self.loaded = loaded
        self._analyzer = analyzer = Analyzer(loaded.ruleset, REFERENCE)
        self.base = analyzer.base()
        self.pools = {name: pool + _spread(loaded.ruleset.inputs[name])
                      for name, pool in analyzer.cand.lists.items() if pool}
        self.names = sorted(self.pools)
        self.special_as_of = analyzer.as_of_pool[1:]  # around the rules' effective dates, if they follow as_of
        self.seeds = [(_as_sent(case), as_of) for case, as_of in
                      (seeds_from_tests(rules_dir, loaded.ruleset.name, REFERENCE) if rules_dir else [])]

    def case(self, start: int, as_of: datetime, changes: dict) -> tuple[dict, datetime]:
        """A case and its as_of: start 0 is the base case as of `as_of`, start i the case of the
        i-th rule test (modulo their number) as of its own as_of; each input of `changes` is set
        to its candidate number `index` (modulo the number of candidates)."""
        if start and self.seeds:
            case, as_of = self.seeds[(start - 1) % len(self.seeds)]
        else:
            case = {k: materialize(v, as_of) for k, v in self.base.items()}
        picked = {name: self.pools[name][index % len(self.pools[name])] for name, index in changes.items()}
        return self._analyzer.with_changes(case, picked, as_of), as_of

    def draw(self, rng: random.Random, as_of: datetime | None = None) -> tuple[dict, datetime]:
        """A random case (not yet known to be valid) and its as_of: half of them a rule test's
        case, unless `as_of` is given."""
        start = 0
        if as_of is None:
            if self.seeds and rng.random() < 0.5:
                start = rng.randint(1, len(self.seeds))
            if self.special_as_of and rng.random() < 0.1:
                as_of = rng.choice(self.special_as_of)
            else:
                as_of = FIRST_DAY + timedelta(days=rng.randrange(DAYS), minutes=rng.randrange(MINUTES))
        names = rng.sample(self.names, rng.randint(1, min(MAX_CHANGES, len(self.names))))
        return self.case(start, as_of, {n: rng.randrange(len(self.pools[n])) for n in names})

    def decide(self, case: dict, as_of: datetime, **options):
        """(decision, the case as decided) after repairing the case; (None, case) when it stays
        invalid or ends in a conflict."""
        for _ in range(REPAIRS + 1):
            try:
                return self.loaded.decide(case, as_of=as_of.isoformat(), **options), case
            except DecisionConflict:
                return None, case
            except CaseError as e:
                named = set(e.errors) & set(self.loaded.ruleset.inputs)
                if not named or all(case.get(f) == self._base_value(f, as_of) for f in named):
                    return None, case
                case = dict(case)
                for f in named:
                    value = self._base_value(f, as_of)
                    if value is None:
                        case.pop(f, None)
                    else:
                        case[f] = value
        return None, case

    def _base_value(self, name: str, as_of: datetime):
        return materialize(self.base[name], as_of) if name in self.base else None


def valid_cases(loaded, n: int, seed: int = 1, as_of: datetime | None = None,
                rules_dir: Path | None = None) -> list[tuple[dict, str]]:
    """n (case, as_of ISO text) pairs that `loaded` decides without a CaseError or a conflict; the
    same for the same seed. With `as_of`, every case is decided as of that moment; with
    `rules_dir`, half the cases start from the rule set's rule tests (rules_dir/tests)."""
    gen = CaseGenerator(loaded, rules_dir)
    rng = random.Random(f"{loaded.ruleset.name}:{seed}")
    out = []
    for _ in range(50 * n + 100):
        if len(out) == n:
            break
        case, when = gen.draw(rng, as_of)
        decision, case = gen.decide(case, when)
        if decision is not None:
            out.append((case, when.isoformat()))
    if len(out) < n:
        raise ValueError(f"{loaded.ruleset.name}: only {len(out)} of {50 * n + 100} generated cases are valid")
    return out


def _spread(inp) -> list:
    """For a number input, SPREAD values evenly across its declared range (0 to 100,000 when it
    declares none): the amounts between the boundaries, so arithmetic is tried on more than them."""
    kind = inp.type.kind
    if kind not in ("integer", "decimal", "money"):
        return []
    lo = Decimal(inp.minimum) if inp.minimum is not None else Decimal(0)
    hi = Decimal(inp.maximum) if inp.maximum is not None else Decimal(100_000)
    values = [lo + (hi - lo) * k / (SPREAD + 1) for k in range(1, SPREAD + 1)]
    if kind == "integer":
        return [int(v) for v in values]
    return [str(v.quantize(Decimal("0.01") if kind == "money" else Decimal("0.001"))) for v in values]


def _as_sent(case: dict) -> dict:
    """A rule test's case (YAML: numbers, dates) as a client sends it in JSON (text for numbers
    with a fraction, ISO text for dates)."""
    def plain(o):
        if isinstance(o, Decimal):
            return str(o)
        if isinstance(o, (date, datetime)):
            return o.isoformat()
        raise TypeError(type(o).__name__)
    return json.loads(json.dumps(case, default=plain, ensure_ascii=False))
