"""A rule set described for people and tools (`GET /v1/rulesets/{name}`, the docs, the web pages)."""
from __future__ import annotations

from engine.language.conditions import describe as condition_text
from engine.types import to_json


def _type(t) -> dict:
    out = {"type": t.kind}
    if t.kind == "enum":
        out["values"] = list(t.values)
        out["labels"] = dict(t.labels)  # code → the Chinese label the rule file gives it
    if t.kind == "list":
        out["items"] = _type(t.item)
    return out


def describe_ruleset(loaded) -> dict:
    rs = loaded.ruleset
    return {
        "name": rs.name, "title": rs.title, "version": rs.version, "digest": rs.digest, "decides": rs.decides,
        "sources": list(rs.sources), "loaded_at": loaded.loaded_at.isoformat(timespec="seconds"),
        "inputs": {n: _type(i.type) | {"title": i.title, "required": i.required,
                                        "default": to_json(i.default, i.type),
                                        **({"min": to_json(i.minimum, i.type)} if i.minimum is not None else {}),
                                        **({"max": to_json(i.maximum, i.type)} if i.maximum is not None else {}),
                                        **({"min_items": i.min_items} if i.min_items is not None else {}),
                                        **({"pii": True} if i.pii else {}),
                                        **({"group": i.group} if i.group else {})}
                   for n, i in rs.inputs.items()},
        "outputs": {n: _type(o.result_type) | {"title": o.title, "combine": o.combine,
                                                "default": to_json(o.default, o.result_type), "stage": o.stage}
                    for n, o in rs.outputs.items()},
        "parameters": {n: {"value": to_json(p.value, p.type), "type": p.type.kind, "title": p.title,
                           "source": p.source, **({"reading": p.reading} if p.reading else {})}
                       for n, p in rs.parameters.items()},
        "rules": [{"id": r.id, "title": r.title, "source": r.source, "stage": r.stage, "priority": r.priority,
                   "effective_from": r.effective_from.isoformat() if r.effective_from else None,
                   "effective_to": r.effective_to.isoformat() if r.effective_to else None,
                   "when": condition_text(r.when),
                   "then": {o: e.text for o, e in r.then.items()},
                   **({"table": r.table} if r.table else {})}
                  for r in rs.rules],
    }
