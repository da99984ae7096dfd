"""Which rules decide a stage, and the value of each output: the one meaning of a decision.

Two steps, both here and nowhere else:
- `table_hits`: the hit policy of decision tables. Of the rules of a stage that matched,
  a `hit: first` table keeps only its first matching row (the rows behind it are
  *shadowed* by that row); two matching rows of a `hit: unique` table are a conflict.
  A table is one unit against other rules: every row has the table's priority.
- `resolve`: one output's value from the hits that set it, by the output's `combine`,
  with who decided it (winners) and who set another value and was overridden (losers).

engine.evaluation.evaluate applies both and records the result on the Decision; the explanation,
why-not, `check` and `impact` read that record and never re-derive it.
"""
from __future__ import annotations

from typing import NamedTuple

from engine.errors import DecisionConflict
from engine.model import Output


class Resolution(NamedTuple):
    """Who decided one output: the rule ids whose value it took (every setter for `collect`;
    empty: the output's default) and the rule ids that set a different value and lost."""

    winners: tuple
    losers: tuple


DEFAULTED = Resolution((), ())


def table_hits(matched: list, shadowed: dict) -> tuple[list, DecisionConflict | None]:
    """The hits among the rules of one stage that matched (file order), by their tables' hit
    policy. Each `hit: first` row behind the row that matched is recorded in `shadowed`
    (row id → the id of the row that took it). Returns the hits and the conflict of a
    `hit: unique` table with two matching rows, which the caller raises once the hits'
    outputs are computed (an invalid case or an engine bound is reported before it)."""
    first: dict = {}
    unique: dict = {}
    hits = []
    for r in matched:
        if r.table_hit == "first":
            taken = first.get(r.table)
            if taken is not None:
                shadowed[r.id] = taken
                continue
            first[r.table] = r.id
        elif r.table_hit == "unique":
            unique.setdefault(r.table, []).append(r.id)
        hits.append(r)
    for table, ids in unique.items():
        if len(ids) > 1:
            return hits, DecisionConflict(f"decision table {table}", ids)
    return hits, None


def _rank(rule) -> tuple:
    return rule.priority, -rule.index  # ties go to the rule written first


def resolve(output: Output, hits: list, sets: dict) -> tuple:
    """(value, Resolution) of `output` from the hits of its stage; `sets` is rule id → {output:
    typed value}. Raises DecisionConflict when two hits set a `combine: unique` output."""
    name = output.name
    setters = [r for r in hits if sets[r.id].get(name) is not None]
    if not setters:
        return output.default, DEFAULTED
    combine = output.combine
    if combine == "collect":
        return [sets[r.id][name] for r in setters], Resolution(tuple(r.id for r in setters), ())
    if len(setters) == 1:  # the common case: one hit sets it, nobody is overridden
        winner = setters[0]
        return sets[winner.id][name], Resolution((winner.id,), ())
    if combine == "unique":
        raise DecisionConflict(name, [r.id for r in setters])
    winner = setters[0] if combine == "first" else max(setters, key=_rank)
    value = sets[winner.id][name]
    return value, Resolution((winner.id,), tuple([r.id for r in setters
                                                  if r is not winner and sets[r.id][name] != value]))
