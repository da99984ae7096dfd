"""Evaluate one case: derived facts, stages in order, outputs resolved per `combine`.

A decision is a pure function of (case, as_of, rule-set version): no clock, no I/O
here. Matching (which rules fire) is the backend's job; everything after it — table hit
policies and output values (engine.evaluation.resolution), the explanation — is shared by both backends.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engine.evaluation.case import read_case
from engine.language.conditions import compile_condition
from engine.errors import CaseError, EvaluationLimit
from engine.explanation.explain import explain_not_fired, fired_entry
from engine.language.functions import collecting_warnings
from engine.model import RuleSet
from engine.evaluation.resolution import DEFAULTED, resolve, table_hits
from engine.types import to_json


@dataclass
class Decision:
    ruleset: dict
    as_of: datetime
    outputs: dict  # output name → JSON value
    fired: list
    warnings: list
    not_fired: list | None = None
    typed: dict = field(default_factory=dict, repr=False)  # output name → typed value
    # how it was decided (engine.evaluation.resolution), for the policy-owner tools; not part of the JSON
    resolution: dict = field(default_factory=dict, repr=False)  # output → Resolution (outputs of stages reached)
    sets: dict = field(default_factory=dict, repr=False)  # fired rule id → {output: typed value}
    shadowed: dict = field(default_factory=dict, repr=False)  # `hit: first` row id → the row that took it

    def to_json(self) -> dict:
        out = {"ruleset": self.ruleset, "as_of": self.as_of.isoformat(), "decision": self.outputs,
               "fired": self.fired, "warnings": self.warnings}
        if self.not_fired is not None:
            out["not_fired"] = self.not_fired
        return out


def evaluate(ruleset: RuleSet, matcher, case: dict, as_of: datetime, explain: str = "fired") -> Decision:
    """Decide `case` (a JSON object) as of `as_of` (an aware datetime). `explain`: "fired" (the fired
    rules' entries), "full" (and why each other rule did not fire) or "none" (no entries: `fired`
    is empty, the fired rule ids are the keys of `sets`, in firing order — for impact runs, which
    compare only outputs and rule ids)."""
    with collecting_warnings() as warnings:
        return _decide(ruleset, matcher, case, as_of, explain, warnings)


def _decide(ruleset: RuleSet, matcher, case: dict, as_of: datetime, explain: str, warnings: list) -> Decision:
    plan = ruleset.plan
    env = dict(ruleset.base_env)
    env.update(read_case(ruleset, case))
    env["as_of"], env["today"] = as_of, as_of.date()
    _derive(plan.derived, env)
    _validate(ruleset, env)
    try:
        effective = ruleset.effective_date.fn(env) if ruleset.effective_date else env["today"]
    except EvaluationLimit as limit:
        raise EvaluationLimit(limit.message, "effective_date", "effective_date") from None

    fired_rules, sets, lost, resolution, shadowed = [], {}, {}, {}, {}
    for i, stage in enumerate(plan.stages):
        if stage.derived:
            _derive(stage.derived, env)
        try:
            fired = matcher.match(i, env, effective)
        except EvaluationLimit as limit:
            raise _condition_limit(ruleset.stages[i], env, limit) from None
        if not fired:  # nothing fired: every output of the stage takes its default
            for o in stage.outputs:
                env[o.name] = o.default
                resolution[o.name] = DEFAULTED
            continue
        conflict = None
        if stage.tables:
            fired, conflict = table_hits(fired, shadowed)
        if stage.needs:
            _check_needs(fired, env)
        try:
            for r in fired:
                sets[r.id] = {o: e.fn(env) for o, e in r.then.items()}
        except EvaluationLimit as limit:
            raise _output_limit(r, env, limit) from None
        if conflict is not None:
            raise conflict
        for o in stage.outputs:
            env[o.name], decided = resolve(o, fired, sets)
            resolution[o.name] = decided
            for loser in decided.losers:
                lost.setdefault(loser, []).append(o.name)
        fired_rules.extend(fired)

    out, typed, decided = {}, {}, {}
    for name, result_type in plan.outputs:
        value = env.get(name)
        if value is not None:
            typed[name] = value
            out[name] = to_json(value, result_type)
            decided[name] = (value, out[name], result_type)
    seen = {}  # fact name → its JSON, shared by the fired rules' explanations
    decision = Decision(ruleset.meta, as_of, out,
                        [] if explain == "none" else
                        [fired_entry(ruleset, r, sets[r.id], lost.get(r.id), env, seen, decided)
                         for r in fired_rules],
                        warnings, typed=typed, resolution=resolution, sets=sets, shadowed=shadowed)
    if explain == "full":
        fired_ids = {r.id for r in fired_rules}
        decision.not_fired = explain_not_fired(ruleset, fired_ids, shadowed, env, effective)
    return decision


def _derive(derived, env: dict):
    """Compute derived facts in order into env."""
    try:
        for name, fn in derived:
            env[name] = fn(env)
    except EvaluationLimit as limit:
        raise EvaluationLimit(limit.message, name, f"derived fact {name}") from None


# A value over an engine bound (EvaluationLimit) is raised where it is computed, inside an
# expression; these name the rule and the output or fact it belongs to, off the hot path, by
# evaluating the candidates again on the same facts (expressions are pure).
def _condition_limit(stage, env: dict, limit: EvaluationLimit) -> EvaluationLimit:
    for r in stage.rules:
        try:
            compile_condition(r.when)(env)
        except EvaluationLimit as e:
            return EvaluationLimit(e.message, r.id, f"rule {r.id}, its condition", r.id)
    return limit


def _output_limit(rule, env: dict, limit: EvaluationLimit) -> EvaluationLimit:
    for o, e in rule.then.items():
        try:
            e.fn(env)
        except EvaluationLimit as over:
            return EvaluationLimit(over.message, o, f"rule {rule.id}, output {o}", rule.id)
    return limit


def _validate(ruleset: RuleSet, env: dict):
    errors: dict[str, list[str]] = {}
    try:
        for v in ruleset.validations:
            if v.expr.fn(env) is False:
                errors.setdefault(v.field, []).append(v.message)
    except EvaluationLimit as limit:
        raise EvaluationLimit(limit.message, v.field, f"the validation of {v.field}") from None
    if errors:
        raise CaseError(errors)


def _check_needs(fired, env):
    """A fired rule whose `needs` input is not given: the case is invalid, naming the input and
    the rule (the outcome uses the input; other outcomes do not ask for it)."""
    errors: dict[str, list[str]] = {}
    for r in fired:
        for name in r.needs:
            if env[name] is None:
                errors.setdefault(name, []).append(
                    f"needed for this decision: rule {r.id} {r.title} (source {r.source})")
    if errors:
        raise CaseError(errors)
