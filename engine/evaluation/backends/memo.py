"""The durable backend's match memo: which rules of a stage fired, remembered per fact.

Which rules of a stage fire is a pure function of the fact asserted (a fresh session each
time, nothing else in it), and facts repeat a lot once a number or date that the stage only
compares with literals is taken as *where it falls among them* — which decides every such
test — rather than as itself. A stage whose fact was seen before then skips the native
assert. Bounded: a full memo takes no more (the facts seen first are the common ones).
bench/RESULTS.md gives the hit rates and the figures without it. Nothing here reads
expression text: the literals come from the compiled tests (engine.language.expressions.Native).
"""
from __future__ import annotations

from bisect import bisect_left

MEMO_SIZE = 4096  # entries per stage; 0 turns the memo off


def abstraction(literals: set | None, compared_otherwise: bool) -> tuple:
    """(sorted literals, their set) for a fact the stage compares only with literals; (None, None)
    when the key must hold the value itself."""
    if not literals or compared_otherwise:
        return None, None
    try:
        ordered = tuple(sorted(literals))
    except TypeError:  # literals of different types: keep the value itself
        return None, None
    return ordered, frozenset(literals)


def place(value, literals: tuple, literal_set: frozenset):
    """Which literals are below `value` and whether it equals one: all that <, <=, ==, !=, >=, > and
    `in` against those literals can tell about it."""
    try:
        return bisect_left(literals, value), value in literal_set
    except TypeError:  # a value of another type than the literals (not produced by the compiler)
        return value


def memo_key(fields: tuple, env: dict, effective_value, effective_key) -> list:
    """The memo key of a stage's native facts (more is appended for its computed tests). `fields`
    is (name, literals, literal set, to_native, places) per fact; a fact with literals is keyed by
    its `place` among them, others by value. (The values themselves are read again only on a miss.)
    `places` remembers the place of values seen before (value → place; a dict look-up instead of a
    conversion and a bisection: bench/RESULTS.md, issue 14), at most MEMO_SIZE of them."""
    key = []
    append = key.append
    if effective_key is not None and effective_value is not None:
        append(place(effective_value, *effective_key))
    for name, literals, literal_set, to_native, places in fields:
        value = env.get(name)
        if value is None:
            append(None)
        elif literals is None:
            append(value if to_native is None else to_native(value))  # dates and date-times: as sent
        else:
            where = places.get(value)
            if where is None:
                where = place(value if to_native is None else to_native(value), literals, literal_set)
                if len(places) < MEMO_SIZE:
                    places[value] = where
            append(where)
    return key


class MatchMemo:
    """Fired rules by memo key, at most `size` of them."""

    def __init__(self, size: int):
        self.size = size
        self._fired: dict = {}
        # the remembered rules of a key, or None (always, when the memo is off): the dict's own
        # `get`, as it is asked once per stage of every decision
        self.get = self._fired.get if size else _nothing

    def put(self, key, rules) -> None:
        if len(self._fired) < self.size:
            self._fired[key] = rules


def _nothing(_key) -> None:
    return None
