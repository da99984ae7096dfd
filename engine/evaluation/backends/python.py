"""The plain-Python backend: conditions evaluated directly. The reference for the Rete one."""
from __future__ import annotations

from engine.language.conditions import compile_condition
from engine.model import RuleSet


class PythonMatcher:
    name = "python"

    def __init__(self, ruleset: RuleSet):
        # (rule, its condition, whether it is in force on every date: no effective dates to check)
        self._stages = [[(r, compile_condition(r.when), r.effective_from is None and r.effective_to is None)
                         for r in s.rules] for s in ruleset.stages]

    def match(self, stage_index, env, effective):
        return [r for r, holds, always in self._stages[stage_index]
                if (always or r.in_force(effective)) and holds(env) is True]
