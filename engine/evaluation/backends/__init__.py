"""Matching backends: given a stage and the facts, which rules of the stage fire.

Both backends read the same compiled model and must agree (the tests demand it):
`python` evaluates conditions directly; `durable` compiles them to a Rete network
in durable-rules. Everything after matching (outputs, conflicts, explanation) is
shared, in `engine.evaluation.evaluate`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from engine.model import Rule, RuleSet


class Matcher(Protocol):
    def match(self, stage_index: int, env: dict, effective) -> Sequence[Rule]:
        """The rules of the stage in force on `effective` whose condition holds, in file order
        (read only: the durable backend shares the tuple it remembers)."""


def make_matcher(ruleset: RuleSet, backend: str) -> Matcher:
    if backend == "python":
        from engine.evaluation.backends.python import PythonMatcher
        return PythonMatcher(ruleset)
    if backend == "durable":
        from engine.evaluation.backends.durable import DurableMatcher
        return DurableMatcher(ruleset)
    raise ValueError(f"unknown engine backend {backend!r} (durable or python)")


BACKENDS = ("durable", "python")
