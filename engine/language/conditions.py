"""The condition tree: its one walker (`fold`), and what is built with it — the three-valued
(Kleene) evaluation, the text of a part, the names and atoms it holds, and the part that
stopped it holding.

An atom is true, false or unknown (None: a fact it reads is missing). `all` is
false if any part is false, `any` true if any part is true; `not` keeps unknown.
A rule fires only when its condition is true.

Every walk of a condition tree anywhere (compiler, backends, explanation, `check`, the
rules page) goes through `fold`, so a new kind of node is taught to one function.
"""
from __future__ import annotations

from engine.language.expressions import kleene_and, kleene_or
from engine.model import All, Atom, Not


def fold(cond, atom, all_, any_, not_):
    """Walk a condition bottom-up: `atom(node)` for an Atom; `all_(node, parts)`, `any_(node, parts)`
    and `not_(node, part)` for the others, given what their children folded to."""
    def walk(node):
        if isinstance(node, Atom):
            return atom(node)
        if isinstance(node, Not):
            return not_(node, walk(node.item))
        parts = [walk(i) for i in node.items]
        return all_(node, parts) if isinstance(node, All) else any_(node, parts)
    return walk(cond)


def compile_condition(cond):
    """Condition tree → a function env → True/False/None."""
    def negate(_node, inner):
        return lambda env: None if (v := inner(env)) is None else not v
    return fold(cond, lambda a: a.expr.fn, lambda _n, parts: kleene_and(parts),
                lambda _n, parts: kleene_or(parts), negate)


KEYWORDS = ("and", "or", "not", "true")


def pieces(cond) -> list:
    """The condition as one line, in pieces: its Atoms, the keywords "and", "or", "not" and "true",
    and the spaces and brackets between them. A part that joins others is bracketed when it
    stands beside another. `describe` joins them into text; the rules page into words."""
    def joined(keyword):
        def join(_node, parts):
            if not parts:
                return ["true"]
            out = []
            for i, part in enumerate(parts):
                if i:
                    out += [" ", keyword, " "]
                inner = _text(part)
                out += ["(", *part, ")"] if len(parts) > 1 and (" and " in inner or " or " in inner) else part
            return out
        return join
    return fold(cond, lambda a: [a], joined("and"), joined("or"), lambda _n, part: ["not", " (", *part, ")"])


def _text(parts) -> str:
    return "".join(p.expr.text if isinstance(p, Atom) else p for p in parts)


def describe(cond) -> str:
    """The condition as one line of text (an atom: its expression as written)."""
    return _text(pieces(cond))


def nodes(cond) -> list:
    """Every part of a condition, the whole last."""
    def with_children(node, parts):
        return [n for p in parts for n in p] + [node]
    return fold(cond, lambda a: [a], with_children, with_children, lambda n, part: part + [n])


def atoms(cond) -> list[Atom]:
    """The atoms of a condition, left to right."""
    def flat(_node, parts):
        return [a for p in parts for a in p]
    return fold(cond, lambda a: [a], flat, flat, lambda _n, part: part)


def reads(cond) -> frozenset:
    """The names a condition reads."""
    return frozenset().union(*(a.expr.names for a in atoms(cond)))


def names_in(cond) -> list[str]:
    return sorted(reads(cond))


def first_failure(cond, env):
    """The part of a condition that stopped it holding (for "why not?"), with its truth value:
    inside an `all`, the first part that does not hold, looked into; an atom, `any` or `not` is
    named whole. (None, True) when the condition holds."""
    part, value, _text, _names = failure_finder(cond)(env)
    return part, value


HOLDS = (None, True, "", [])


def failure_finder(cond):
    """`first_failure` for one condition, compiled once — a function env → (part, value, the part's
    text, the names it reads), HOLDS when the condition holds. RuleSet.plan keeps one per rule:
    the explanation asks it of every rule that did not fire."""
    def whole(node, _parts=None):
        fn, text, names = compile_condition(node), describe(node), names_in(node)
        return lambda e: ((v := fn(e)), (node, v, text, names))

    def all_(_node, parts):
        def fn(e):
            unknown, first = False, None
            for part in parts:  # evaluated as far as the condition itself is (it stops at a false part)
                v, failure = part(e)
                if v is True:
                    continue
                first = first or failure
                if v is False:
                    return False, first
                unknown = True
            return (None, first) if unknown else (True, None)
        return fn

    folded = fold(cond, whole, all_, whole, whole)

    def find(env):
        value, failure = folded(env)
        return HOLDS if value is True else failure
    return find
