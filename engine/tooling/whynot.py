"""`aftersales explain <ruleset> <case> --why-not <RULE_ID>`: why did this rule not decide?

Every part of the rule's condition with its value on this case (true / false /
unknown) and the facts it read; whether the rule is in force on the case's
effective date; whether it fired; and, if it fired, which outputs a rule of higher
priority (or an earlier row of its table) took from it.
"""
from __future__ import annotations

import json

from engine.errors import did_you_mean
from engine.language.conditions import atoms, compile_condition, describe, fold
from engine.model import Rule, RuleSet
from engine.explanation.explain import display_name
from engine.explanation.trace import trace
from engine.types import ANY, to_json


class UnknownRule(KeyError):
    pass


def _truth(v) -> str:
    return "unknown" if v is None else "true" if v else "false"


def _facts(ruleset: RuleSet, names, env) -> dict:
    return {n: to_json(env.get(n), ruleset.fact_types.get(n, ANY)) for n in sorted(names) if n not in ruleset.tables}


def condition_tree(ruleset: RuleSet, cond, env, winners: dict | None = None) -> dict:
    """The condition with the value of each part; `winners` (output → deciding rule ids) says
    where a fact that is an earlier stage's output came from."""
    def value(part) -> str:
        return _truth(compile_condition(part)(env)) if env is not None else "unknown"

    def test(atom):
        names = atom.expr.names
        node = {"kind": "test", "text": atom.expr.text, "value": value(atom), "line": atom.line,
                "facts": _facts(ruleset, names, env or {})}
        missing = [n for n in sorted(names) if n not in ruleset.tables and (env or {}).get(n) is None]
        if missing:
            node["missing"] = missing
        origin = {n: (winners or {}).get(n, []) for n in sorted(names) if n in ruleset.outputs}
        if origin and env is not None:
            node["decided_by"] = origin  # [] : the output's default (no rule set it)
        return node

    def group(kind):
        return lambda part, items: {"kind": kind, "text": describe(part), "value": value(part), "items": items}
    return fold(cond, test, group("all"), group("any"), lambda part, item: group("not")(part, [item]))


def _then_text(e, t) -> str:
    if e.constant:
        return _shown(to_json(e.fn({}), t), dict(t.labels))
    return "= " + e.text


def why_not(ruleset: RuleSet, case: dict, as_of, rule_id: str) -> dict:
    """The explanation as a dict (raises CaseError for an invalid case, UnknownRule)."""
    out = _with_labels(ruleset, _why_not(ruleset, case, as_of, rule_id))
    # the facts' Chinese titles, so the text names them as people know them (`display_name`)
    out["names"] = {n: display_name(ruleset, n) for n in ruleset.fact_types if display_name(ruleset, n) != n}
    return out


def _why_not(ruleset: RuleSet, case: dict, as_of, rule_id: str) -> dict:
    rule: Rule | None = ruleset.rule(rule_id)
    if rule is None:
        raise UnknownRule(f"no rule {rule_id!r} in {ruleset.name}" + did_you_mean(rule_id, ruleset.plan.rules))
    t = trace(ruleset, case, as_of)
    reached = rule.id in t.held
    env = t.env if reached else None
    in_force = rule.in_force(t.effective)
    fired = rule.id in t.fired
    out = {
        "ruleset": ruleset.meta, "as_of": as_of.isoformat() if hasattr(as_of, "isoformat") else as_of,
        "rule": {"id": rule.id, "title": rule.title, "source": rule.source, "stage": rule.stage,
                 "priority": rule.priority, "file": ruleset.path, "line": rule.line, "table": rule.table,
                 "sets": {o: _then_text(e, ruleset.outputs[o].type) for o, e in rule.then.items()}},
        "effective_date": t.effective.isoformat() if t.effective else None,
        "effective_from": rule.effective_from.isoformat() if rule.effective_from else None,
        "effective_to": rule.effective_to.isoformat() if rule.effective_to else None,
        "in_force": in_force,
        "condition": condition_tree(ruleset, rule.when, env, t.winners),
        "fired": fired,
        "overridden": [],
        # the derived facts the condition reads, with their definitions
        "derived": {d.name: {"text": d.expr.text, "facts": _facts(ruleset, d.expr.names, env or {})}
                    for d in _all_derived(ruleset) if any(d.name in a.expr.names for a in atoms(rule.when))},
    }
    if not reached:
        out["verdict"] = (f"not evaluated: the decision stopped before stage {rule.stage} ({t.conflict})"
                          if t.conflict else f"not evaluated: stage {rule.stage} was not reached")
        return out
    held = t.held[rule.id]
    if fired:
        for o in rule.then:
            mine = t.sets[rule.id].get(o)
            winners = t.winners.get(o, [])
            if rule.id in winners:
                continue
            otype = ruleset.outputs[o].type
            entry = {"output": o, "value": to_json(mine, otype) if mine is not None else None,
                     "by": winners[0] if winners else None}
            if winners:
                w = ruleset.rule(winners[0])
                entry["by_priority"] = w.priority
                entry["by_value"] = to_json(t.sets[w.id].get(o), otype)
            out["overridden"].append(entry)
        decided = [o for o in rule.then if o not in {e["output"] for e in out["overridden"]}]
        if not out["overridden"]:
            out["verdict"] = "fired and decided " + ", ".join(decided)
        else:
            lost = "; ".join(
                f"{e['output']} went to {e['by']} (priority {e.get('by_priority')}, "
                f"{_shown(e.get('by_value'), dict(ruleset.outputs[e['output']].type.labels), repr)})"
                if e["by"] else f"{e['output']}: its value is unknown (null)" for e in out["overridden"])
            out["verdict"] = ("fired and decided " + ", ".join(decided) + "; but " if decided else "fired, but ") \
                + f"overridden: {lost}"
        return out
    if not in_force:
        out["verdict"] = (f"not in force on the effective date {out['effective_date']} "
                          f"(in force {out['effective_from'] or '…'} to {out['effective_to'] or '…'})")
        return out
    if rule.id in t.shadowed:  # a row of a `hit: first` table behind the row that matched
        row = out["first_hit_by"] = t.shadowed[rule.id]
        out["verdict"] = f"its condition holds, but an earlier row of table {rule.table} matched first ({row})"
        return out
    failed = [n for n in _leaves(out["condition"]) if n["value"] != "true"]
    if held is None:
        missing = sorted({m for n in failed for m in n.get("missing", [])})
        out["verdict"] = "did not fire: its condition is unknown" \
            + (f" (missing: {', '.join(display_name(ruleset, m) for m in missing)})" if missing else "")
    else:
        out["verdict"] = "did not fire: " + "; ".join(f"`{n['text']}` is {n['value']}" for n in _deciding(out["condition"]))
    return out


def _with_labels(ruleset: RuleSet, out: dict) -> dict:
    """`labels`: the labels of the enum values the explanation shows, so its text names them."""
    names = {n for leaf in _leaves(out["condition"]) for n in leaf["facts"]}
    names |= {n for d in out["derived"].values() for n in d["facts"]} | set(out["rule"]["sets"])
    types = {n: ruleset.fact_types.get(n) for n in sorted(names)}
    out["labels"] = {n: dict(t.labels) for n, t in types.items() if t is not None and t.kind == "enum"}
    return out


def _all_derived(ruleset: RuleSet):
    yield from ruleset.derived
    for s in ruleset.stages:
        yield from s.derived


def _leaves(node):
    if node["kind"] == "test":
        return [node]
    return [x for i in node["items"] for x in _leaves(i)]


def _deciding(node):
    """The tests that made a false condition false (all: the failing parts; any: every part)."""
    if node["kind"] == "test":
        return [node]
    if node["kind"] == "not":
        return [node]
    if node["kind"] == "all":
        return [x for i in node["items"] if i["value"] == "false" for x in _deciding(i)]
    return [x for i in node["items"] for x in _deciding(i)]


MARK = {"true": "✓", "false": "✗", "unknown": "?"}


def format_text(w: dict) -> str:
    r = w["rule"]
    lines = [f"why not {r['id']} ({r['title']})?",
             f"  {r['file']}:{r['line']}  stage {r['stage']}, priority {r['priority']}"
             + (f", table {r['table']}" if r["table"] else "") + f"; source: {r['source']}",
             "  sets: " + ", ".join(f"{o} = {v}" for o, v in r["sets"].items())]
    span = f"{w['effective_from'] or '…'} to {w['effective_to'] or '…'}" \
        if (w["effective_from"] or w["effective_to"]) else "no effective_from / effective_to"
    lines.append(f"  in force: {'yes' if w['in_force'] else 'NO'} (effective date {w['effective_date']}; rule: {span})")
    lines.append(f"  condition: {w['condition']['value']}")
    rows = []

    def walk(node, depth):
        pad = "    " + "  " * depth
        if node["kind"] == "test":
            origin = node.get("decided_by", {})
            facts = ", ".join(f"{w['names'].get(k, k)} = {_shown(v, w['labels'].get(k, {}))}"
                              + (f" ({'from ' + ', '.join(origin[k]) if origin[k] else 'default'})" if k in origin else "")
                              for k, v in node["facts"].items())
            rows.append((f"{pad}{MARK[node['value']]} {node['text']}", node["value"], facts))
        else:
            label = "not:" if node["kind"] == "not" else f"{node['kind']} of:"
            rows.append((f"{pad}{MARK[node['value']]} {label}", node["value"], ""))
            for i in node["items"]:
                walk(i, depth + 1)
    top = w["condition"]
    if top["kind"] == "all" and len(top["items"]) != 1:
        for i in top["items"]:
            walk(i, 0)
    else:
        walk(top, 0)
    if not top.get("items") and top["kind"] == "all":
        rows.append(("    ✓ (always: when: true)", "true", ""))
    width = min(max(len(x[0]) for x in rows) + 2, 72)
    for text, value, facts in rows:
        lines.append(f"{text:<{width}} {value:<8} {facts}".rstrip())
    derived = {}
    for leaf in _leaves(top):
        for name in leaf["facts"]:
            if name in w.get("derived", {}):
                derived[name] = w["derived"][name]
    for name, d in derived.items():
        lines.append(f"    where {name} = {d['text']}")
        if d["facts"]:
            lines.append("      (" + ", ".join(f"{w['names'].get(k, k)} = {_shown(v, w['labels'].get(k, {}))}"
                                     for k, v in d["facts"].items()) + ")")
    lines.append(f"  fired: {'yes' if w['fired'] else 'no'}")
    lines.append(f"  verdict: {w['verdict']}")
    return "\n".join(lines)


def _show(v) -> str:
    return json.dumps(v, ensure_ascii=False)


def _shown(value, labels: dict, show=_show) -> str:
    """A value as JSON (or `show`), an enum code followed by its label: "misuse"（使用、维护、保管不当）."""
    label = labels.get(value) if isinstance(value, str) else None
    return show(value) + (f"（{label}）" if label and label != value else "")
