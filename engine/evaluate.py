"""Evaluate one case: derived facts, stages in order, outputs resolved per `combine`.

A decision is a pure function of (case, as_of, rule-set version): no clock, no I/O
here. Matching (which rules fire) is the backend's job; everything after it —
output values, priorities, conflicts, the explanation — is shared by both backends.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .case import read_case
from .conditions import compile_condition
from .errors import CaseError, DecisionConflict, EvaluationLimit
from .explain import explain_not_fired, fired_entry
from .functions import WARNINGS
from .model import RuleSet
from .types import to_json


@dataclass
class Decision:
    ruleset: dict
    as_of: datetime
    outputs: dict  # output name → JSON value
    fired: list
    warnings: list
    not_fired: list | None = None
    typed: dict = field(default_factory=dict, repr=False)  # output name → typed value

    def to_json(self) -> dict:
        out = {"ruleset": self.ruleset, "as_of": self.as_of.isoformat(), "decision": self.outputs,
               "fired": self.fired, "warnings": self.warnings}
        if self.not_fired is not None:
            out["not_fired"] = self.not_fired
        return out


def evaluate(ruleset: RuleSet, matcher, case: dict, as_of: datetime, explain: str = "fired") -> Decision:
    """Decide `case` (a JSON object) as of `as_of` (an aware datetime)."""
    derived, stages, outputs = _plan(ruleset)
    env = dict(ruleset.base_env)
    env.update(read_case(ruleset, case))
    env["as_of"], env["today"], env[WARNINGS] = as_of, as_of.date(), []
    _derive(derived, env)
    _validate(ruleset, env)
    try:
        effective = ruleset.effective_date.fn(env) if ruleset.effective_date else env["today"]
    except EvaluationLimit as limit:
        raise EvaluationLimit(limit.message, "effective_date", "effective_date") from None

    fired_rules, sets, lost = [], {}, {}
    for i, (stage_derived, hit_first, unique, stage_outputs) in enumerate(stages):
        _derive(stage_derived, env)
        try:
            fired = matcher.match(i, env, effective)
        except EvaluationLimit as limit:
            raise _condition_limit(ruleset.stages[i], env, limit) from None
        if not fired:  # nothing fired: every output of the stage takes its default
            for o in stage_outputs:
                env[o.name] = o.default
            continue
        if hit_first:
            fired = _first_hit_rows(fired)
        _check_needs(fired, env)
        try:
            for r in fired:
                sets[r.id] = {o: e.fn(env) for o, e in r.then.items()}
        except EvaluationLimit as limit:
            raise _output_limit(r, env, limit) from None
        if unique:
            _check_unique_tables(fired)
        for o in stage_outputs:
            env[o.name] = _resolve(o, fired, sets, lost)
        fired_rules.extend(fired)

    out, typed = {}, {}
    for name, result_type in outputs:
        value = env.get(name)
        if value is not None:
            typed[name] = value
            out[name] = to_json(value, result_type)
    decision = Decision(ruleset.meta, as_of, out,
                        [fired_entry(ruleset, r, sets[r.id], lost.get(r.id), env) for r in fired_rules],
                        env[WARNINGS], typed=typed)
    if explain == "full":
        fired_ids = {r.id for r in fired_rules}
        decision.not_fired = explain_not_fired(ruleset, fired_ids, env, effective)
    return decision


def _plan(ruleset: RuleSet) -> tuple:
    """What evaluate() walks, worked out once per rule-set version: derived facts, and per stage its
    derived facts, whether it has `hit: first` / `hit: unique` tables, and its outputs."""
    plan = ruleset.__dict__.get("_evaluate_plan")
    if plan is None:
        stages = tuple((tuple((d.name, d.expr.fn) for d in stage.derived),
                        any(r.table_hit == "first" for r in stage.rules),
                        any(r.table_hit == "unique" for r in stage.rules),
                        tuple(ruleset.outputs[o] for o in stage.outputs)) for stage in ruleset.stages)
        plan = ruleset.__dict__["_evaluate_plan"] = (
            tuple((d.name, d.expr.fn) for d in ruleset.derived), stages,
            tuple((name, o.result_type) for name, o in ruleset.outputs.items()))
    return plan


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


def _first_hit_rows(fired):
    """A `hit: first` decision table fires only its first matching row."""
    seen, out = set(), []
    for r in fired:
        if r.table_hit == "first":
            if r.table in seen:
                continue
            seen.add(r.table)
        out.append(r)
    return out


def _check_unique_tables(fired):
    rows: dict[str, list[str]] = {}
    for r in fired:
        if r.table_hit == "unique":
            rows.setdefault(r.table, []).append(r.id)
    for table, ids in rows.items():
        if len(ids) > 1:
            raise DecisionConflict(f"decision table {table}", ids)


def _resolve(output, fired, sets, lost):
    """The value of one output from the rules that fired in its stage."""
    setters = [r for r in fired if sets[r.id].get(output.name) is not None]
    if not setters:
        return output.default
    if output.combine == "collect":
        return [sets[r.id][output.name] for r in setters]
    if output.combine == "unique" and len(setters) > 1:
        raise DecisionConflict(output.name, [r.id for r in setters])
    if output.combine == "first":
        winner = setters[0]
    else:  # priority; ties go to the rule written first
        winner = max(setters, key=lambda r: (r.priority, -r.index))
    for r in setters:
        if r is not winner and sets[r.id][output.name] != sets[winner.id][output.name]:
            lost.setdefault(r.id, []).append(output.name)
    return sets[winner.id][output.name]
