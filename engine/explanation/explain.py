"""What a decision says about its rules: the fired ones with the facts they read,
and for `explain=full` each rule in force that did not fire, with the first part of
its condition that failed and the values it saw ("why not free repair?")."""
from __future__ import annotations

from engine.model import Rule, RuleSet
from engine.types import ANY, to_json


def _values(ruleset: RuleSet, names, env) -> dict:
    out = {}
    for n in names:
        if n in ruleset.tables:
            continue
        out[n] = to_json(env.get(n), ruleset.fact_types.get(n, ANY))
    return out


def _read_values(ruleset: RuleSet, rule: Rule, env) -> dict:
    """The facts `rule`'s condition reads (tables left out), as JSON."""
    return {n: to_json(env.get(n), t) for n, t in ruleset.plan.reads[rule.id]}


def fired_entry(ruleset: RuleSet, rule: Rule, sets: dict, lost, env) -> dict:
    outputs = ruleset.outputs
    entry = {"id": rule.id, "title": rule.title, "source": rule.source, "stage": rule.stage,
             "sets": {o: to_json(v, outputs[o].type) for o, v in sets.items() if v is not None},
             "values": _read_values(ruleset, rule, env)}
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
                    "because": "missing: " + ", ".join(missing) if value is None and missing else "false",
                    "values": _values(ruleset, names, env)})
    return out
