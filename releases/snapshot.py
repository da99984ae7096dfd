"""A release's content: the whole rule source as text, named by one digest.

A snapshot holds every file of a rules folder that the policy consists of — each rule set
(`warranty.yaml`), the calendar (`calendar.yaml`) and the rule tests (`tests/<ruleset>/<name>.yaml`)
— by relative POSIX name. Its digest is SHA-256 over the sorted names and contents, so the same
content is the same digest on every host. Snapshots are read from a folder, written back to one
(`export`), and compiled (`compile_snapshot`) exactly as a rules folder is: each rule set with the
snapshot's calendar, its problems named `<file>:<line>:<col>`.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from engine.calendar import WorkCalendar
from engine.errors import Problem, RulesError
from engine.loading.compiler import compile_ruleset
from engine.loading.yamlsource import MAX_FILE_BYTES, decode, read_bytes
from engine.model import RuleSet
from engine.rulebook import CALENDAR_FILE, MAX_RULE_FILES, NOT_RULESETS, read_calendar

MAX_TEST_FILES = 500
"""Rule-test files in a snapshot: each is run at submit; thousands would be a wrong folder."""
MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024
"""All files of a snapshot together (each is at most MAX_FILE_BYTES): it is stored in the database
and read by every worker that activates it."""
NAME = re.compile(r"(?:tests/[A-Za-z0-9_\-]{1,64}/)?[A-Za-z0-9_\-]{1,64}\.yaml")
"""A file's name in a snapshot: a YAML file at the top of the folder, or a rule test one level
under tests/<ruleset>/; nothing else is policy (no paths out of the folder, no hidden files)."""


@dataclass(frozen=True)
class Snapshot:
    files: dict = field(default_factory=dict)  # relative name → text

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.files):
            data = self.files[name].encode("utf-8")
            h.update(f"{name}\0{len(data)}\0".encode() + data)
        return "sha256:" + h.hexdigest()

    @property
    def ruleset_files(self) -> list[str]:
        """The rule set files, in order (top-level YAML files but the calendar)."""
        return sorted(n for n in self.files if "/" not in n and n not in NOT_RULESETS)

    @property
    def size(self) -> int:
        return sum(len(t.encode("utf-8")) for t in self.files.values())


def check_files(files: dict) -> Snapshot:
    """A snapshot of `files` (name → text) from a client or the database, refused unless every name
    and the sizes are within bounds; problems name the file."""
    problems = []
    if not isinstance(files, dict) or not files:
        raise RulesError([Problem("files", 1, 1, "a release needs at least one rule set file")])
    for name, text in files.items():
        if not isinstance(name, str) or not NAME.fullmatch(name):
            problems.append(Problem(str(name)[:100], 1, 1, "not a rule file name: NAME.yaml or tests/RULESET/NAME.yaml"))
        elif not isinstance(text, str):
            problems.append(Problem(name, 1, 1, "the content must be text"))
        elif len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
            problems.append(Problem(name, 1, 1, f"larger than {MAX_FILE_BYTES:,} bytes"))
        elif "\0" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
            problems.append(Problem(name, 1, 1, "holds a NUL or a lone surrogate: not a text file"))
    if problems:
        raise RulesError(problems)
    snap = Snapshot(dict(sorted(files.items())))
    _check_counts(snap)
    return snap


def _check_counts(snap: Snapshot) -> None:
    tests = sum(1 for n in snap.files if n.startswith("tests/"))
    top = len(snap.files) - tests
    if not snap.ruleset_files:
        raise RulesError([Problem("files", 1, 1, "a release needs at least one rule set file (NAME.yaml)")])
    for count, limit, what in ((top, MAX_RULE_FILES, "rule files"), (tests, MAX_TEST_FILES, "rule-test files")):
        if count > limit:
            raise RulesError([Problem("files", 1, 1, f"{count} {what}; at most {limit}")])
    if snap.size > MAX_SNAPSHOT_BYTES:
        raise RulesError([Problem("files", 1, 1, f"{snap.size:,} bytes in all; at most {MAX_SNAPSHOT_BYTES:,}")])


def read_folder(folder: Path) -> Snapshot:
    """The policy files of a rules folder; RulesError naming each file that cannot be read."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RulesError([Problem(str(folder), 1, 1, "rules folder not found")])
    paths = sorted(folder.glob("*.yaml")) + sorted(folder.glob("tests/*/*.yaml"))
    if len(paths) > MAX_RULE_FILES + MAX_TEST_FILES:
        raise RulesError([Problem(str(folder), 1, 1, f"more than {MAX_RULE_FILES + MAX_TEST_FILES} YAML files")])
    files, problems = {}, []
    for path in paths:
        name = path.relative_to(folder).as_posix()
        if not NAME.fullmatch(name):
            problems.append(Problem(str(path), 1, 1, "not a rule file name: NAME.yaml or tests/RULESET/NAME.yaml"))
            continue
        try:
            files[name] = decode(read_bytes(path), str(path))
        except RulesError as e:
            problems.extend(e.problems)
    if problems:
        raise RulesError(problems)
    snap = Snapshot(files)
    _check_counts(snap)
    return snap


def export(snap: Snapshot, folder: Path) -> None:
    """Write the snapshot's files under `folder` (created; files of the same name replaced)."""
    folder = Path(folder)
    for name, text in snap.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@contextmanager
def materialized(snap: Snapshot) -> Iterator[Path]:
    """The snapshot as a temporary rules folder, for the folder-based tooling (check, tests, impact)."""
    folder = Path(tempfile.mkdtemp(prefix="aftersales-release-"))
    try:
        export(snap, folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Compiled:
    calendar: WorkCalendar
    rulesets: dict = field(default_factory=dict)  # stem → RuleSet
    errors: dict = field(default_factory=dict)  # file name → RulesError

    @property
    def problems(self) -> list:
        return [p for e in self.errors.values() for p in e.problems]


def files_calendar(files: dict) -> WorkCalendar:
    """The calendar of a release's files (RulesError when it does not load); without one, the
    package's own (engine.calendar)."""
    if CALENDAR_FILE not in files:
        return WorkCalendar.package_only()
    return read_calendar(Path(CALENDAR_FILE), files[CALENDAR_FILE])


def compile_snapshot(snap: Snapshot) -> Compiled:
    """Compile every rule set of the snapshot with its calendar; nothing raises, problems are kept
    by file. A calendar that fails refuses the whole snapshot (every deadline depends on it)."""
    try:
        calendar = files_calendar(snap.files)
    except RulesError as e:
        return Compiled(WorkCalendar.package_only(), errors={CALENDAR_FILE: e})
    out = Compiled(calendar)
    for name in snap.ruleset_files:
        try:
            rs: RuleSet = compile_ruleset(Path(name), calendar, snap.files[name])
            out.rulesets[rs.name] = rs
        except RulesError as e:
            out.errors[name] = e
    return out
