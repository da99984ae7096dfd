"""What a decision says about its rules: the fired ones with the facts they read,
and for `explain=full` each rule in force that did not fire, with the first part of
its condition that failed and the values it saw ("why not free repair?")."""
from __future__ import annotations

from engine.model import Rule, RuleSet
from engine.types import ANY, to_json


def display_name(ruleset: RuleSet, name: str) -> str:
    """A fact as people read it in an explanation's text: its key with its Chinese title where the
    rule set gives one (`floor_ratio（正常销售底价比例）`), else the key. Never a JSON key."""
    for section in (ruleset.inputs, ruleset.parameters, ruleset.outputs, ruleset.tables):
        if (item := section.get(name)) is not None and item.title:
            return f"{name}（{item.title}）"
    return name


def _values(ruleset: RuleSet, names, env) -> dict:
    out = {}
    for n in names:
        if n in ruleset.tables:
            continue
        out[n] = to_json(env.get(n), ruleset.fact_types.get(n, ANY))
    return out


def _read_values(ruleset: RuleSet, rule: Rule, env, seen: dict | None = None) -> dict:
    """The facts `rule`'s condition reads (tables left out), as JSON. `seen` (fact name → JSON)
    is shared by the fired rules of one decision: the entries are built from the final facts once
    the decision is made, and rows of a table read the same facts (bench/RESULTS.md, issue 14)."""
    if seen is None:
        return {n: to_json(env.get(n), t) for n, t in ruleset.plan.reads[rule.id]}
    out = {}
    for n, t in ruleset.plan.reads[rule.id]:
        value = seen.get(n, seen)
        if value is seen:
            value = seen[n] = to_json(env.get(n), t)
        out[n] = value
    return out


def fired_entry(ruleset: RuleSet, rule: Rule, sets: dict, lost, env, seen: dict | None = None,
                decided: dict | None = None) -> dict:
    """`decided` (output → (typed value, its JSON, type)) is the decision's outputs: a value this
    rule set that became the output is not converted to JSON a second time."""
    outputs = ruleset.outputs
    values = {}
    for o, v in sets.items():
        if v is None:
            continue
        t = outputs[o].type
        done = decided.get(o) if decided else None
        values[o] = done[1] if done is not None and done[0] is v and done[2] is t else to_json(v, t)
    entry = {"id": rule.id, "title": rule.title, "source": rule.source, "stage": rule.stage,
             "sets": values, "values": _read_values(ruleset, rule, env, seen)}
    if lost:
        entry["overridden"] = sorted(lost)  # outputs a higher-priority rule decided differently
    return entry


def explain_not_fired(ruleset: RuleSet, fired_ids: set, shadowed: dict, env: dict, effective) -> list:
    """Each rule in force that did not fire, and why; `shadowed` is the decision's record of the
    `hit: first` rows behind a row that matched (engine.evaluation.resolution)."""
    out = []
    for r in ruleset.rules:
        if r.id in fired_ids or not r.in_force(effective):
            continue
        if r.id in shadowed:
            out.append({"id": r.id, "title": r.title, "source": r.source, "stage": r.stage,
                        "failed": f"an earlier row of table {r.table} matched ({shadowed[r.id]})",
                        "because": "first hit", "values": _read_values(ruleset, r, env)})
            continue
        _part, value, text, names = ruleset.plan.why_not[r.id](env)
        missing = [n for n in names if env.get(n) is None and n not in ruleset.tables]
        out.append({"id": r.id, "title": r.title, "source": r.source, "stage": r.stage,
                    "failed": text,
                    "because": "missing: " + ", ".join(display_name(ruleset, n) for n in missing)
                    if value is None and missing else "false",
                    "values": _values(ruleset, names, env)})
    return out
