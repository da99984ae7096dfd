"""The decision log's errors: what `DecisionLog` raises, and what `prepare` refuses."""
from __future__ import annotations


class DecisionLogError(Exception):
    """The decision log could not do what was asked."""


class DuplicateDecisionError(DecisionLogError):
    """A decision id is already in the log (nothing of the batch was stored)."""


class DecisionLogUnavailable(DecisionLogError):
    """The database could not be reached or failed."""


class UnstorableEntry(ValueError):
    """A value the log cannot store (NUL, a lone surrogate, NaN, nesting too deep, not JSON);
    ``field`` names where, e.g. ``case.customer_name`` or ``decision_id``."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem

