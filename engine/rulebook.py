"""The Python API: load a rules folder once, evaluate many cases.

    book = RuleBook.load("rules")             # compiles every rule set; problems → book.errors
    decision = book.decide("warranty", case, as_of="2026-11-25", explain="full")
    decision.to_json()

Each rule set is compiled once and bound to a matching backend (durable-rules by
default, or the plain-Python one). A file that fails to load is kept out and its
problems are listed in `errors`; the others still serve.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from engine.evaluation.backends import make_matcher
from engine.calendar import WorkCalendar, load_calendar
from engine.evaluation.case import read_as_of
from engine.loading.compiler import compile_ruleset
from engine.errors import CaseError, Problem, RulesError, refusal
from engine.evaluation.evaluate import Decision, evaluate
from engine.model import RuleSet

CALENDAR_FILE = "calendar.yaml"
"""The working-day calendar of a rules folder (or of a release): not a rule set."""
NOT_RULESETS = {CALENDAR_FILE}
MAX_RULE_FILES = 100
"""YAML files in a rules folder: each is read (and the service re-reads them on every change), so
a folder of thousands is a mistake (a wrong path), not a policy."""


@dataclass
class LoadedRuleSet:
    ruleset: RuleSet
    matcher: object
    loaded_at: datetime

    def decide(self, case: dict, as_of=None, explain: str = "fired") -> Decision:
        if explain not in ("fired", "full"):
            raise CaseError({"explain": ["must be 'fired' or 'full'"]})
        return evaluate(self.ruleset, self.matcher, case, read_as_of(as_of), explain)


@dataclass
class RuleBook:
    folder: Path
    backend: str
    calendar: WorkCalendar
    rulesets: dict = field(default_factory=dict)  # name → LoadedRuleSet
    errors: dict = field(default_factory=dict)  # name → RulesError
    release: str | None = None  # the release these rule sets come from, when a service serves one

    @classmethod
    def load(cls, folder="rules", backend: str = "durable") -> "RuleBook":
        folder = Path(folder)
        files = rule_files(folder)
        book = cls(folder, backend, WorkCalendar.package_only())
        try:
            book.calendar = read_calendar(folder / CALENDAR_FILE)
        except RulesError as e:
            book.errors["calendar"] = e
            return book
        for path in files:
            if path.name not in NOT_RULESETS:
                book.load_file(path)
        return book

    def load_file(self, path: Path) -> LoadedRuleSet | None:
        """(Re)compile one file; on failure the previous version keeps serving."""
        try:
            loaded = self.install(compile_ruleset(path, self.calendar))
        except RulesError as e:
            self.errors[path.stem] = e
            return None
        self.errors.pop(path.stem, None)
        return loaded

    def install(self, rs: RuleSet) -> LoadedRuleSet:
        """Serve a compiled rule set, bound to a new matcher; a backend failure refuses its file."""
        try:
            matcher = make_matcher(rs, self.backend)
        except Exception as e:  # noqa: BLE001 - whatever the backend raises, the file is refused
            raise refusal(rs.path, e) from None
        loaded = LoadedRuleSet(rs, matcher, datetime.now().astimezone())
        self.rulesets[rs.name] = loaded
        return loaded

    def get(self, name: str) -> LoadedRuleSet:
        try:
            return self.rulesets[name]
        except KeyError:
            raise KeyError(name) from None

    def decide(self, name: str, case: dict, as_of=None, explain: str = "fired") -> Decision:
        return self.get(name).decide(case, as_of, explain)

    def all_problems(self) -> list:
        return [p for e in self.errors.values() for p in e.problems]


def rule_files(folder: Path) -> list[Path]:
    """The YAML files of a rules folder, in order; a missing folder or too many files is refused."""
    if not folder.is_dir():
        raise RulesError([Problem(str(folder), 1, 1, "rules folder not found")])
    files = sorted(folder.glob("*.yaml"))
    if len(files) > MAX_RULE_FILES:
        raise RulesError([Problem(str(folder), 1, 1, f"more than {MAX_RULE_FILES} YAML files in the rules folder")])
    return files


def read_calendar(path: Path, text: str | None = None) -> WorkCalendar:
    """`load_calendar`, with any failure a located refusal of the calendar file."""
    try:
        return load_calendar(path, text)
    except Exception as e:  # noqa: BLE001 - RecursionError, MemoryError, a loader bug: still a refusal
        raise refusal(path, e) from None
