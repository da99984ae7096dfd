"""Evaluating a condition tree in three-valued (Kleene) logic, and describing it.

An atom is true, false or unknown (None: a fact it reads is missing). `all` is
false if any part is false, `any` true if any part is true; `not` keeps unknown.
A rule fires only when its condition is true.
"""
from __future__ import annotations

from engine.language.expressions import kleene_and, kleene_or
from engine.model import All, Atom, Not


def compile_condition(cond):
    """Condition tree → a function env → True/False/None."""
    if isinstance(cond, Atom):
        return cond.expr.fn
    if isinstance(cond, Not):
        inner = compile_condition(cond.item)
        return lambda env: None if (v := inner(env)) is None else not v
    parts = [compile_condition(i) for i in cond.items]
    return kleene_and(parts) if isinstance(cond, All) else kleene_or(parts)


def describe(cond) -> str:
    if isinstance(cond, Atom):
        return cond.expr.text
    if isinstance(cond, Not):
        return f"not ({describe(cond.item)})"
    if not cond.items:
        return "true"
    joiner = " and " if isinstance(cond, All) else " or "
    parts = [describe(i) for i in cond.items]
    text = joiner.join(f"({p})" if len(cond.items) > 1 and (" and " in p or " or " in p) else p for p in parts)
    return text


def first_failure(cond, env):
    """The part of a condition that stopped it holding (for "why not?"), with its truth value."""
    value = compile_condition(cond)(env)
    if value is True:
        return None, True
    if isinstance(cond, All):
        for item in cond.items:
            v = compile_condition(item)(env)
            if v is not True:
                return first_failure(item, env)
    return cond, value


def names_in(cond) -> list[str]:
    if isinstance(cond, Atom):
        return sorted(cond.expr.names)
    if isinstance(cond, Not):
        return names_in(cond.item)
    return sorted({n for i in cond.items for n in names_in(i)})
