"""Errors a user of the engine can act on: rule-file problems and invalid cases."""
from __future__ import annotations

import difflib
from dataclasses import dataclass


MAX_MESSAGE = 500
"""Characters of a problem's message: a message quotes the text it is about (an expression, a
value), and a refused megabyte must not come back whole in every `GET /v1/rulesets`."""


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text`, cut to `limit` characters with the length of what was left out."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit:,} more characters)"


@dataclass(frozen=True)
class Problem:
    """One problem in a rule file, located for a policy owner."""

    file: str
    line: int
    column: int
    message: str
    rule_id: str | None = None
    level: str = "error"

    def __post_init__(self):
        object.__setattr__(self, "message", shorten(self.message))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        rule = f" [{self.rule_id}]" if self.rule_id else ""
        return f"{where}: {self.level}:{rule} {self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "column": self.column,
                "rule_id": self.rule_id, "level": self.level, "message": self.message}


class RulesError(Exception):
    """A rule set could not be loaded; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def refusal(file, e: BaseException) -> RulesError:
    """Any failure to load `file` as a refusal of that file: a loader bug or an unplanned input
    must cost one rule set its edit, never the service (the message is cut to stay readable)."""
    if isinstance(e, RulesError):
        return e
    return RulesError([Problem(str(file), 1, 1,
                               f"the file could not be loaded ({type(e).__name__}: {shorten(str(e), 200)})")])


class CaseError(Exception):
    """A case does not fit the rule set's inputs: field path → messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


class DecisionConflict(Exception):
    """Two rules set an output declared `combine: unique` — the rule set is contradictory."""

    def __init__(self, output: str, rule_ids: list[str]):
        self.output = output
        self.rule_ids = rule_ids
        super().__init__(f"output {output!r} is unique but set by rules {', '.join(rule_ids)}")


class EvaluationLimit(CaseError):
    """Deciding this case makes a value larger than the engine computes (engine.language.expressions' bounds):
    the policy cannot decide it. A CaseError, so every caller answers it as a case that cannot be
    decided — the API with a 422 naming the rule (the case is the client's and retrying cannot help),
    the CLI with exit 2 — and never as a failed worker. `where` names the rule and the fact or output
    once engine.evaluation.evaluate knows them."""

    def __init__(self, message: str, fact: str = "expression", where: str = "", rule_id: str | None = None):
        self.message, self.fact, self.where, self.rule_id = message, fact, where, rule_id
        super().__init__({fact: [f"{where}: {message}" if where else message]})


class ExpressionError(Exception):
    """A problem in one expression; the compiler turns it into a located Problem."""

    def __init__(self, message: str, offset: int = 0):
        self.message = message
        self.offset = offset  # column offset inside the expression text
        super().__init__(message)


def did_you_mean(name, candidates) -> str:
    """' — did you mean 'x'?' naming the candidate closest to a mistyped `name`, or '' when none is close:
    the one hint for every unknown name (keys, facts, functions, outputs, inputs, fields, rules)."""
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1)
    return f" — did you mean {close[0]!r}?" if close else ""
