"""Hypothesis strategies of generated cases, for the property tests.

The cases are engine.tooling.cases' (the benchmarks' generator: check's boundary candidates around
the base case and the rule tests' cases); hypothesis only chooses what `CaseGenerator.case` is
given — the start, the as_of, the inputs changed and which candidate each gets — so it can shrink
a failing case to a small change of a known one.
"""
from datetime import timedelta

from hypothesis import strategies as st

from engine.tooling.cases import DAYS, FIRST_DAY, MAX_CHANGES, MINUTES, CaseGenerator
from tests.conftest import RULES


def generator(loaded) -> CaseGenerator:
    """The generator of a shipped rule set, with its rule tests as starting cases."""
    return CaseGenerator(loaded, RULES)


def cases(gen: CaseGenerator, vary: tuple = ()):
    """(case, as_of datetime) pairs; not repaired (`gen.decide` repairs). The inputs in `vary` are
    changed in every case (a property about them then sees many of their values)."""
    window = st.builds(lambda d, m: FIRST_DAY + timedelta(days=d, minutes=m),
                       st.integers(0, DAYS - 1), st.integers(0, MINUTES - 1))
    as_of = st.one_of(window, st.sampled_from(gen.special_as_of)) if gen.special_as_of else window
    changes = st.dictionaries(st.sampled_from(gen.names), st.integers(0, 10_000), min_size=1, max_size=MAX_CHANGES)
    if vary:
        always = st.fixed_dictionaries({name: st.integers(0, 10_000) for name in vary})
        changes = st.builds(lambda a, b: {**b, **a}, always, changes)
    return st.builds(gen.case, st.integers(0, len(gen.seeds)), as_of, changes)
