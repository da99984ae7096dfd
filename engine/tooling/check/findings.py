"""The findings of `aftersales check` and the report that lists them: what each kind means is in
the package's docstring (engine.tooling.check); here they are built from what the analysis
recorded, and the policy owner's `accept:` entries are matched to them."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from engine.explanation.trace import trace
from engine.language.conditions import describe, first_failure
from engine.model import RuleSet
from engine.tooling.check.examples import shown, size


@dataclass
class Finding:
    kind: str  # dead | never_fires | overlap | conflict | gap | limit | stale_accept
    level: str  # error | warning
    file: str
    line: int
    ruleset: str
    message: str
    rule_id: str | None = None
    other: str | None = None  # the other rule of an overlap / conflict
    output: str | None = None
    example: dict | None = None  # {"as_of": …, "case": {…}}
    count: int = 0  # cases it was seen on
    accepted: str | None = None  # the reason, when accepted in the YAML

    def __str__(self) -> str:
        rule = f" [{self.rule_id}]" if self.rule_id else ""
        text = f"{self.file}:{self.line}: {self.level}:{rule} {self.message}"
        if self.accepted:
            text += f" (accepted: {self.accepted})"
        if self.example is not None:
            label = "closest case" if self.kind == "never_fires" else "example"
            text += f"\n    {label} (as_of {self.example['as_of']}): " + json.dumps(
                self.example["case"], ensure_ascii=False, sort_keys=True)
        return text

    def as_dict(self) -> dict:
        return {"kind": self.kind, "level": self.level, "file": self.file, "line": self.line,
                "ruleset": self.ruleset, "rule_id": self.rule_id, "other": self.other, "output": self.output,
                "message": self.message, "example": self.example, "cases": self.count, "accepted": self.accepted}


@dataclass
class Report:
    ruleset: str
    findings: list = field(default_factory=list)
    cases: int = 0  # generated
    valid: int = 0  # inside the domain
    rules: int = 0
    fired: int = 0  # rules fired on some case

    @property
    def open(self) -> list:
        return [f for f in self.findings if not f.accepted]

    def as_dict(self) -> dict:
        return {"ruleset": self.ruleset, "cases": self.cases, "valid_cases": self.valid, "rules": self.rules,
                "rules_fired": self.fired, "findings": [f.as_dict() for f in self.findings]}


def report(an) -> Report:
    """The findings of an analysis that has run (engine.tooling.check.cases.Analyzer)."""
    rs = an.rs
    rep = Report(rs.name, cases=an.cases, valid=an.valid, rules=len(rs.rules),
                 fired=sum(1 for s in an.stats.values() if s.held))
    f = rep.findings
    for r in rs.rules:
        st = an.stats[r.id]
        if st.held == 0:
            closest = st.closest
            msg = f"no generated case makes it fire ({an.valid} valid cases tried)"
            if st.condition_true:
                msg = f"its condition holds on {st.condition_true} cases, but never while it is in force " \
                      f"(effective {r.effective_from or '…'} to {r.effective_to or '…'})"
            elif closest is not None:
                t = trace(rs, closest[0], closest[1], an.matcher)
                if t.env:
                    part, value = first_failure(r.when, t.env)
                    if part is not None:
                        msg += f"; closest case: all but `{describe(part)}` ({'unknown' if value is None else 'false'})"
            f.append(Finding("never_fires", "warning", rs.path, r.line, rs.name, msg, r.id,
                             example=shown(closest) if closest else None))
        elif st.decided == 0:
            (w, _), _n = st.winners.most_common(1)[0] if st.winners else ((None, None), 0)
            outs = sorted({o for (_, o) in st.winners})
            by = sorted({x for (x, _) in st.winners})
            wr = an.rules.get(w)
            who = ", ".join(by)
            if w in st.shadowed_by:
                why = f"an earlier row of table {r.table} ({who}) matches first"
            else:
                why = f"{who} (priority {wr.priority if wr else '?'}) decides " + ", ".join(outs)
            f.append(Finding("dead", "error", rs.path, r.line, rs.name,
                             f"can never decide anything: on all {st.held} cases where its condition holds, "
                             f"{why}", r.id, other=w, example=shown(st.example), count=st.held))
    pairs: dict[tuple, list] = {}
    for (winner, loser, output), entry in sorted(an.overlaps.items(), key=_by_line(an.rules)):
        pairs.setdefault((winner, loser), []).append((output, entry))
    for (winner, loser), items in pairs.items():
        w, lo = an.rules[winner], an.rules[loser]
        n = max(e[0] for _, e in items)
        example = min((e[1] for _, e in items), key=size)
        outs = [o for o, _ in items]
        values = "; ".join(f"{o}: {winner} sets {e[2][0]!r}, {loser} sets {e[2][1]!r}" for o, e in items)
        f.append(Finding("overlap", "warning", rs.path, lo.line, rs.name,
                         f"overlaps {winner} (line {w.line}, same priority {w.priority}) on {', '.join(outs)}: "
                         f"on {n} cases both fire and disagree ({values}); "
                         f"{winner} wins only because it is written first",
                         loser, other=winner, output=", ".join(outs), example=shown(example), count=n))
    for (output, ids), (n, example) in an.conflicts.items():
        r = an.rules[ids[-1]]
        f.append(Finding("conflict", "error", rs.path, r.line, rs.name,
                         f"{' and '.join(ids)} both set {output}, which takes one value "
                         f"(combine: unique / hit: unique): the decision fails on {n} cases",
                         r.id, other=ids[0], output=output, example=shown(example), count=n))
    for output, (n, example) in an.gaps.items():
        o = rs.outputs[output]
        why = "it has no default" if o.required is None else \
            "it is required" if o.required is True else f"it is required when {o.required.text}"
        f.append(Finding("gap", "error", rs.path, o.line, rs.name,
                         f"gap: no rule sets {output} on {n} valid cases, and {why}", output=output,
                         example=shown(example), count=n))
    for (rule_id, fact), (n, example, e) in an.limits.items():
        line = an.rules[rule_id].line if rule_id else _line_of(rs.path, fact)
        f.append(Finding("limit", "error", rs.path, line, rs.name,
                         f"{e.where}: {e.message}: the decision fails on {n} cases", rule_id, output=fact,
                         example=shown(example), count=n))
    _apply_accepts(rs, f)
    f.sort(key=lambda x: (x.line, x.kind, x.rule_id or ""))
    return rep


def _line_of(path, name: str) -> int:
    """The line where `name:` is defined in the rule file (derived facts keep no line), else 1."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 1
    return next((i for i, text in enumerate(lines, 1) if text.strip().startswith(f"{name}:")), 1)


def _by_line(rules):
    return lambda item: (rules[item[0][1]].line, item[0][2])


def _apply_accepts(rs: RuleSet, findings: list):
    used = set()
    rules = {r.id: r for r in rs.rules}
    for fd in findings:
        if fd.kind == "gap":
            for a in rs.outputs[fd.output].accept:
                fd.accepted = a.reason
                used.add((fd.output, a))
                break
            continue
        if fd.kind not in ("dead", "overlap", "conflict", "never_fires"):
            continue
        kind = "dead" if fd.kind == "never_fires" else fd.kind
        for rid, other in ((fd.rule_id, fd.other), (fd.other, fd.rule_id)):
            r = rules.get(rid)
            if r is None:
                continue
            for a in r.accept:
                if a.finding == kind and a.with_rule in (None, other) and \
                        (a.output is None or a.output in (fd.output or "").split(", ")):
                    fd.accepted = a.reason
                    used.add((r.id, a))
                    break
            if fd.accepted:
                break
    for r in rs.rules:
        for a in r.accept:
            if (r.id, a) not in used:
                what = a.finding + (f" with {a.with_rule}" if a.with_rule else "") + (f" on {a.output}" if a.output else "")
                findings.append(Finding("stale_accept", "warning", rs.path, a.line or r.line, rs.name,
                                        f"accept entry ({what}) matches no finding on the generated cases: remove it if the finding is gone", r.id))
    for o in rs.outputs.values():
        for a in o.accept:
            if (o.name, a) not in used:
                findings.append(Finding("stale_accept", "warning", rs.path, a.line or o.line, rs.name,
                                        f"accept entry (gap on {o.name}) matches no finding on the generated cases: remove it if the finding is gone",
                                        output=o.name))

