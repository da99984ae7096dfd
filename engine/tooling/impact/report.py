"""The impact report: the aggregate as a JSON-ready dict, and that dict as text."""
from __future__ import annotations

import json
from decimal import Decimal

from .comparison import EXAMPLES, STATUS, Aggregate, show


def report_dict(agg: Aggregate, base_label: str, current_label: str, seconds: float, problems: dict) -> dict:
    rulesets = {}
    for rs in sorted(agg.per_ruleset):
        trans = [{"output": o, "before": b, "after": a, "cases": n,
                  "examples": agg.examples.get((r, o, b, a), [])}
                 for (r, o, b, a), n in sorted(agg.transitions.items(), key=lambda kv: (kv[0][1] != STATUS, -kv[1], kv[0]))
                 if r == rs]
        money = {o: m.as_dict() for (r, o), m in sorted(agg.money.items()) if r == rs}
        rulesets[rs] = {"cases": agg.per_ruleset[rs], "changed": agg.changed[rs],
                        "same_decision_other_rules": agg.fired_only[rs], "transitions": trans, "money": money}
    return {"base": base_label, "current": current_label, "cases": agg.cases,
            "changed": sum(agg.changed.values()), "unreadable": agg.unreadable_count,
            "unreadable_lines": [{"line": i, "error": m} for i, m in agg.unreadable],
            "seconds": round(seconds, 2), "load_problems": problems, "rulesets": rulesets}


def format_text(rep: dict, examples: int = EXAMPLES) -> str:
    out = []
    w = out.append
    w(f"impact of {rep['current']} against base {rep['base']}")
    share = f" ({100 * rep['changed'] / rep['cases']:.1f}%)" if rep["cases"] else ""
    w(f"{rep['cases']:,} cases, {rep['changed']:,} decisions changed{share}; {rep['seconds']:.1f}s")
    if rep["unreadable"]:
        w(f"{rep['unreadable']:,} lines could not be read, e.g. " +
          "; ".join(f"line {u['line']}: {u['error']}" for u in rep["unreadable_lines"][:3]))
    for side, problems in rep["load_problems"].items():
        for p in problems:
            w(f"{side} rules: {p}")
    for rs, r in rep["rulesets"].items():
        w("")
        w(f"{rs}: {r['changed']:,} of {r['cases']:,} decisions changed"
          + (f"; {r['same_decision_other_rules']:,} more decided the same by other rules" if r["same_decision_other_rules"] else ""))
        if r["transitions"]:
            labels = [_label(t) for t in r["transitions"]]
            width = max(len(x) for x in labels) + 2
            w("")
            w(f"  {'transition':<{width}}{'cases':>8}")
            for t, label in zip(r["transitions"], labels):
                w(f"  {label:<{width}}{t['cases']:>8,}")
        if r["money"]:
            w("")
            w(f"  {'money moved':<22}{'net':>14}{'up':>24}{'down':>24}   largest single change")
            for o, m in r["money"].items():
                largest = f"{_signed(m['largest']['change'])} ({m['largest']['case']})" if m["largest"] else "-"
                up = "{} ({:,})".format(_signed(m["up"]), m["cases_up"])
                down = "{} ({:,})".format(_signed(m["down"]), m["cases_down"])
                w(f"  {o:<22}{_signed(m['total']):>14}{up:>24}{down:>24}   {largest}")
        if examples and r["transitions"]:
            w("")
            w("  examples")
            shown = set()
            for t in r["transitions"]:
                w(f"  {_label(t)}")
                for ex in t["examples"][:examples]:
                    b, a = ex["before"], ex["after"]
                    if ex["case_id"] in shown:
                        if "decided_by" in b:
                            values = f"; {show(b.get('value'))} → {show(a.get('value'))}" if t["after"] == "" else ""
                            w(f"    {ex['case_id']} (above): decided by {', '.join(b['decided_by']) or '(default)'} → "
                              f"{', '.join(a['decided_by']) or '(default)'}{values}")
                        else:
                            w(f"    {ex['case_id']} (above)")
                        continue
                    shown.add(ex["case_id"])
                    case = json.dumps(ex["case"], ensure_ascii=False, sort_keys=True, default=str)
                    if len(case) > 200:
                        case = case[:197] + "…"
                    w(f"    {ex['case_id']}, as_of {ex['as_of']}: {case}")
                    if "decided_by" in b:
                        w(f"      decided by: {', '.join(b['decided_by']) or '(default)'} → "
                          f"{', '.join(a['decided_by']) or '(default)'}")
                        if t["after"] == "":  # changed / appeared / disappeared: show the values
                            w(f"      {t['output']}: {show(b.get('value'))} → {show(a.get('value'))}")
                    gone = [x for x in b["fired"] if x not in a["fired"]]
                    new = [x for x in a["fired"] if x not in b["fired"]]
                    if gone or new:
                        w("      fired: " + " ".join([f"-{x}" for x in gone] + [f"+{x}" for x in new]))
                    for side, o in (("before", b), ("after", a)):
                        if o.get("detail"):
                            w(f"      {side}: {o['status']}: {o['detail']}")
    return "\n".join(out)


def _label(t) -> str:
    if t["output"] == STATUS:
        return f"decision: {t['before']} → {t['after']}"
    if t["after"] == "":
        return f"{t['output']}: {t['before']}"
    return f"{t['output']}: {t['before']} → {t['after']}"


def _signed(s: str) -> str:
    d = Decimal(s)
    return f"+{d:,.2f}" if d > 0 else f"{d:,.2f}"
