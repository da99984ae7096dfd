"""The plain-Python backend: conditions evaluated directly. The reference for the Rete one."""
from __future__ import annotations

from ..conditions import compile_condition
from ..model import RuleSet


class PythonMatcher:
    name = "python"

    def __init__(self, ruleset: RuleSet):
        self._stages = [[(r, compile_condition(r.when)) for r in s.rules] for s in ruleset.stages]

    def match(self, stage_index, env, effective):
        return [r for r, holds in self._stages[stage_index] if r.in_force(effective) and holds(env) is True]
