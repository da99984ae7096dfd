"""The decision model: what a compiled rule set is, independent of how it is evaluated.

The compiler builds these from YAML; the evaluator and both matching backends read
them. Nothing here knows about YAML or durable-rules.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

from engine.language.expressions import Expr
from engine.types import ANY, Type


@dataclass(frozen=True)
class Input:
    name: str
    type: Type
    title: str = ""
    required: bool = False
    default: Any = None  # typed value; None: absent when not sent
    minimum: Any = None
    maximum: Any = None
    min_items: int | None = None
    max_items: int | None = None
    pii: bool = False
    group: str = ""
    description: str = ""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: Type
    value: Any
    title: str = ""
    source: str = ""
    reading: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    source: str
    rows: dict
    columns: tuple  # () for a key → value table


@dataclass(frozen=True)
class Derived:
    name: str
    expr: Expr


@dataclass(frozen=True)
class Output:
    name: str
    type: Type  # for `collect`, the type of one item; the decision holds a list
    title: str = ""
    combine: str = "priority"  # priority | first | unique | collect
    default: Any = None
    stage: str = ""
    # For `aftersales check` only: when the output must have a value. None: undeclared
    # (an output without a default is then required); True / False; or an Expr (required
    # on the cases where it holds, e.g. `given(original_value)`).
    required: Any = None
    line: int = 0
    accept: tuple = ()  # a gap accepted with a reason (Accept)

    @property
    def result_type(self) -> Type:
        return Type("list", item=self.type) if self.combine == "collect" else self.type


@dataclass(frozen=True)
class Atom:
    """One expression inside a condition: the unit the explanation talks about."""

    expr: Expr
    line: int = 0


@dataclass(frozen=True)
class All:
    items: tuple


@dataclass(frozen=True)
class AnyOf:
    items: tuple


@dataclass(frozen=True)
class Not:
    item: Any


Condition = Atom | All | AnyOf | Not


@dataclass(frozen=True)
class Accept:
    """A finding of `aftersales check` a policy owner accepted, with the reason."""

    finding: str  # dead | overlap | conflict (on a rule) | gap (on an output)
    reason: str
    with_rule: str | None = None  # the other rule of an overlap / conflict; None: any
    output: str | None = None  # the output concerned; None: any
    line: int = 0


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    source: str
    stage: str
    index: int  # position in the file: the tie-breaker, and the order of `first`
    when: Condition
    then: dict  # output name → Expr
    priority: int = 0
    effective_from: date | None = None
    effective_to: date | None = None
    table: str | None = None  # the decision table this row came from
    table_hit: str | None = None
    line: int = 0
    reads: frozenset = frozenset()  # fact names its condition reads
    accept: tuple = ()  # findings of `aftersales check` accepted with a reason (Accept)
    # `needs`: inputs the rule's outputs are computed from. When the rule fires and one of them
    # is not given, the case is invalid (CaseError naming the input and this rule), so an input
    # is demanded exactly when the outcome uses it (engine.evaluation.evaluate).
    needs: tuple = ()

    def in_force(self, on: date | None) -> bool:
        if on is None:
            return self.effective_from is None and self.effective_to is None
        return (self.effective_from is None or self.effective_from <= on) and \
               (self.effective_to is None or on <= self.effective_to)


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    derived: tuple
    rules: tuple
    outputs: tuple  # names of the outputs this stage decides


@dataclass(frozen=True)
class Validation:
    field: str
    expr: Expr
    message: str


@dataclass(frozen=True)
class StagePlan:
    derived: tuple  # (name, fn) of the stage's derived facts, in order
    tables: bool  # a `hit: first` / `hit: unique` table is among its rules (engine.evaluation.resolution.table_hits)
    outputs: tuple  # the Outputs it decides
    needs: bool  # a rule of the stage has `needs` (engine.evaluation.evaluate checks them when it fires)


@dataclass(frozen=True)
class Plan:
    derived: tuple  # (name, fn) of the rule set's derived facts, in order
    stages: tuple  # StagePlan per stage
    outputs: tuple  # (name, result type) of every output
    rules: dict  # rule id → Rule
    reads: dict  # rule id → (name, type) of the facts its condition reads, for the explanation
    why_not: dict  # rule id → its condition's failure finder (env → the part that failed, its value)


@dataclass
class RuleSet:
    name: str
    title: str
    version: str
    digest: str
    path: str
    decides: str = ""
    sources: tuple = ()
    effective_date: Expr | None = None
    inputs: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    derived: tuple = ()
    outputs: dict = field(default_factory=dict)
    stages: tuple = ()
    validations: tuple = ()
    base_env: dict = field(default_factory=dict)  # parameter values, copied into every evaluation
    fact_types: dict = field(default_factory=dict)  # every readable name → Type, for explanations
    case_schema: Any = field(default=None, repr=False)  # marshmallow schema of `inputs` (engine.evaluation.case)

    @property
    def rules(self) -> list[Rule]:
        return [r for s in self.stages for r in s.rules]

    def rule(self, rule_id: str) -> Rule | None:
        return self.plan.rules.get(rule_id)

    @cached_property
    def plan(self) -> Plan:
        """What evaluation walks, worked out once per rule-set version (the rule set is not
        changed after the compiler builds it)."""
        from engine.language.conditions import failure_finder  # conditions reads this module's nodes
        return Plan(
            derived=tuple((d.name, d.expr.fn) for d in self.derived),
            stages=tuple(StagePlan(tuple((d.name, d.expr.fn) for d in stage.derived),
                                   any(r.table_hit in ("first", "unique") for r in stage.rules),
                                   tuple(self.outputs[o] for o in stage.outputs),
                                   any(r.needs for r in stage.rules)) for stage in self.stages),
            outputs=tuple((name, o.result_type) for name, o in self.outputs.items()),
            rules={r.id: r for r in self.rules},
            reads={r.id: tuple((n, self.fact_types.get(n, ANY)) for n in sorted(r.reads) if n not in self.tables)
                   for r in self.rules},
            why_not={r.id: failure_finder(r.when) for r in self.rules})

    @cached_property
    def personal(self) -> frozenset:
        """The `pii: true` inputs and every derived fact or output whose value is computed from one
        of them (transitively): what the decision log masks. A fact that a pii value only decides
        *whether* a rule fires (its condition) is not in it, so the decision stays auditable."""
        names = {n for n, i in self.inputs.items() if i.pii}
        computed = [(d.name, d.expr.names) for d in self.derived]
        computed += [(d.name, d.expr.names) for s in self.stages for d in s.derived]
        computed += [(o, e.names) for r in self.rules for o, e in r.then.items()]
        grew = bool(names)
        while grew:  # each pass adds at least one name, so at most len(computed) passes
            added = {name for name, reads in computed if name not in names and reads & names}
            names |= added
            grew = bool(added)
        return frozenset(names)

    @property
    def meta(self) -> dict:
        return {"name": self.name, "version": self.version, "digest": self.digest}
