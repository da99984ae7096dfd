"""One decision with everything the policy-owner tools need to look inside it.

`trace(ruleset, case, as_of)` evaluates a case exactly as `evaluate` does (it *is*
`evaluate`, with a matcher that records what it sees) and returns, besides the
decision, the facts of the case, the effective date, which rules' conditions held,
which fired, and for each output the rule that decided it. `aftersales check`
(engine.tooling.check) and `aftersales explain --why-not` (engine.tooling.whynot) read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.language.conditions import compile_condition
from engine.errors import DecisionConflict
from engine.evaluation.evaluate import Decision, evaluate
from engine.model import RuleSet


class RecordingMatcher:
    """The Python backend, remembering the environment and every rule's condition."""

    name = "python"

    def __init__(self, ruleset: RuleSet):
        self.stages = [[(r, compile_condition(r.when)) for r in s.rules] for s in ruleset.stages]
        self.reset()

    def reset(self):
        self.env = None
        self.effective = None
        self.held: dict[str, object] = {}  # rule id → True / False / None (unknown); in force or not
        self.in_force: dict[str, bool] = {}
        self.reached = -1  # the last stage matched

    def match(self, stage_index, env, effective):
        self.env, self.effective, self.reached = env, effective, stage_index
        out = []
        for r, holds in self.stages[stage_index]:
            value = holds(env)
            force = r.in_force(effective)
            self.held[r.id], self.in_force[r.id] = value, force
            if force and value is True:
                out.append(r)
        return out


@dataclass
class Trace:
    decision: Decision | None
    env: dict
    effective: object
    held: dict  # rule id → condition value (True/False/None), for the stages reached
    in_force: dict  # rule id → in force on the effective date
    fired: list  # rule ids in firing order
    winners: dict = field(default_factory=dict)  # output → [rule ids whose value it took] (set outputs)
    sets: dict = field(default_factory=dict)  # rule id → {output: typed value} (fired rules)
    shadowed: dict = field(default_factory=dict)  # `hit: first` row id → the row that matched before it
    conflict: DecisionConflict | None = None


def trace(ruleset: RuleSet, case: dict, as_of, matcher: RecordingMatcher | None = None) -> Trace:
    """Decide `case` and record how. A CaseError (invalid case) propagates; a
    DecisionConflict is caught and returned in `conflict` (decision None). Who decided each
    output is the decision's own record (engine.evaluation.resolution), not worked out again."""
    m = matcher or RecordingMatcher(ruleset)
    m.reset()
    try:
        decision = evaluate(ruleset, m, case, as_of, "fired")
    except DecisionConflict as e:
        return Trace(None, m.env or {}, m.effective, dict(m.held), dict(m.in_force), [], conflict=e)
    winners = {name: list(r.winners) for name, r in decision.resolution.items() if r.winners}
    return Trace(decision, m.env, m.effective, dict(m.held), dict(m.in_force), [f["id"] for f in decision.fired],
                 winners, decision.sets, decision.shadowed)
