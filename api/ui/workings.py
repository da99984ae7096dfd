"""How a decision's computed outputs were computed, as the rules wrote it (the card's "arithmetic").

For each fired rule that set an output from an expression (not a constant): the expression as
written in the rule, the value the engine gave, and the facts the expression reads with the
values that the decision (the fired rule's `values`, its outputs), the case and the rule set's
declarations hold for them. A derived fact whose value the decision does not carry is shown as
its own expression, with the facts it reads. Nothing is computed here, so what a page shows is
always what the rules say and the engine did.
"""
from __future__ import annotations

from typing import Any

MISSING = object()


def derived(ruleset) -> dict:
    """Derived facts of the rule set and its stages: name → Expr."""
    out = {d.name: d.expr for d in ruleset.derived}
    for stage in ruleset.stages:
        out.update({d.name: d.expr for d in stage.derived})
    return out


def reads_through(ruleset, names) -> list[str]:
    """The facts `names` stand for: themselves, and what each derived one reads, at any depth."""
    exprs, out, todo = derived(ruleset), [], list(names)
    while todo:
        n = todo.pop(0)
        if n not in out:
            out.append(n)
            if n in exprs:
                todo += _in_order(exprs[n])
    return out


def _value(name: str, sources: list[dict], ruleset) -> Any:
    """The value a fact had: from the first source that holds it, else an input's declared default."""
    for source in sources:
        if name in source:
            return source[name]
    spec = ruleset.inputs.get(name)
    return spec.default if spec is not None and spec.default is not None else MISSING


def _in_order(expr) -> list[str]:
    """The names an expression reads (as the compiler recorded them), in a stable order."""
    return sorted(expr.names)


def of(ruleset, response: dict, case: dict) -> list[dict]:
    """[{rule, output, value, expr, facts}] per computed output; ``facts`` in the order the
    expression reads them: (name, value) or, for a derived fact without a value, (name, Expr).

    Left out: an output set from parameters alone (a declared value, shown on the rules page), and
    one that another rule decided (the fired rule's `overridden`)."""
    decision = response.get("decision", {})
    exprs = derived(ruleset)
    out = []
    for f in response.get("fired", []):
        rule = ruleset.rule(f.get("id"))
        if rule is None:
            continue
        sources = [f.get("values", {}), case or {}, decision]
        for name, value in f.get("sets", {}).items():
            expr = rule.then.get(name)
            if expr is None or expr.constant or expr.names <= set(ruleset.parameters) \
                    or name in (f.get("overridden") or ()):   # another rule decided it
                continue
            facts: list = []
            todo, seen = _in_order(expr), set()
            while todo:
                n = todo.pop(0)
                if n in seen or n in ruleset.parameters:  # a parameter is shown in the expression itself
                    continue
                seen.add(n)
                v = _value(n, sources, ruleset)
                if v is MISSING and n in exprs:
                    facts.append((n, exprs[n]))
                    todo += _in_order(exprs[n])
                elif v is not MISSING:
                    facts.append((n, v))
            out.append({"rule": rule.id, "output": name, "value": value, "expr": expr, "facts": facts})
    return out
