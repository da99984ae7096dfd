"""The rules the service decides with: the active release, the same in every worker of every host.

Serving. Every worker serves the release the database names active (releases/store.py): a watcher
thread asks every `interval` seconds (one indexed query), and on a change compiles the rule sets
whose content changed into a new RuleBook and swaps it in whole, so a request decides with one
release and names it. Requests under way finish on the book they started with; none fails during a
switch. Releases are validated once, when they are created and submitted, so workers cannot
disagree about validity.

Where releases come from. In production mode the rules folder is only an import source: an empty
database imports it as the first active release. In development mode (`make run`), each saved
change of the folder becomes a new active release (origin "development", recorded as activated
without review), decided once for the whole server as follows.

The folder's verdict (development mode, and the first import). A watcher thread checks the rules folder (file names, sizes, mtimes) every second or so. On a
change, one worker decides for the whole server: under an exclusive lock on a state file in the
server's var dir (shared by its gunicorn workers) it reads every rule file once and, unless that
content digest was already decided, validates the snapshot and writes the verdict: for each rule
set, the text that serves (the edit, or the last good version when the edit is refused) and the
problems of a refused edit; the same for the calendar, and for the folder itself (a missing or
empty folder is a refused change: the last good versions keep serving). Every worker then loads
that verdict, compiling only the texts it names and deciding nothing itself, so all workers serve
one version whatever their timing or stack depth. A verdict depends on the file contents alone
(every bound is explicit, see engine/loading/yamlsource.py), and it is kept across restarts for the same
rules folder and engine: a restart with a refused edit still serves the last accepted version.
Each change is logged once, by the worker that decided it. Without a var dir (tests, one process)
the verdict is kept in memory.

A calendar change recompiles every rule set, since deadlines depend on it. Versions replaced are
not freed from durable-rules (it cannot delete a ruleset); each costs a few hundred kB, so a
long-lived process with very frequent edits should be restarted now and then.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import engine
from engine.calendar import WorkCalendar
from engine.loading.compiler import compile_ruleset
from engine.errors import Problem, RulesError
from engine.rulebook import CALENDAR_FILE, NOT_RULESETS, RuleBook, read_calendar, rule_files
from engine.loading.yamlsource import decode, read_bytes
from releases.governance import Governance
from releases.snapshot import MAX_TEST_FILES
from releases.snapshot import Snapshot as ReleaseFiles
from releases.store import StoreUnavailable

log = logging.getLogger("aftersales.rules")

SOURCE = "rules folder"  # the name a refused change of the folder itself is shown under
_NOTHING = {"source": None, "error": None, "calendar": {"text": None, "error": None}, "rulesets": {}}


@dataclass
class Snapshot:
    """The rules folder read once: what a verdict is about, named by its digest."""

    digest: str
    texts: dict = field(default_factory=dict)  # file name → text
    unreadable: dict = field(default_factory=dict)  # file name → RulesError (too large, not UTF-8, …)
    error: RulesError | None = None  # the folder itself: missing, no rule set file, too many files


def read_snapshot(folder: Path) -> Snapshot:
    h = hashlib.sha256()
    try:
        files = rule_files(folder)
        if not any(p.name not in NOT_RULESETS for p in files):
            raise RulesError([Problem(str(folder), 1, 1, "the rules folder holds no rule set file (*.yaml)")])
    except RulesError as e:
        h.update(str(e).encode())
        return Snapshot("sha256:" + h.hexdigest(), error=e)
    snap = Snapshot("")
    for path in files:
        try:
            data = read_bytes(path)
            snap.texts[path.name] = decode(data, str(path))
        except RulesError as e:
            snap.unreadable[path.name] = e
            data = str(e).encode()
        h.update(f"{path.name}\0{len(data)}\0".encode() + data)
    snap.digest = "sha256:" + h.hexdigest()
    return snap


def _engine_fingerprint() -> str:
    """The engine's code: a verdict is only valid for the validator that made it."""
    root = Path(engine.__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _dump(e: RulesError | None):
    return [p.as_dict() for p in e.problems] if e else None


def _load(problems) -> RulesError | None:
    return RulesError([Problem(**p) for p in problems]) if problems else None


class RuleSource:
    def __init__(self, folder: Path, backend: str, governance: Governance, on_failure=None,
                 var_dir: Path | None = None, development: bool = True):
        self.folder = Path(folder)
        self.backend = backend
        self.governance = governance
        self.development = development
        self.on_failure = on_failure or (lambda name: None)
        self.book = RuleBook(self.folder, backend, WorkCalendar.package_only())
        self._verdict = _NOTHING  # the folder's last verdict: the refused edits it names are shown
        self.source_error: RulesError | None = None
        self._calendar_text: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch_failure = None
        self.state_path = None
        if var_dir is not None:
            key = hashlib.sha256(f"{self.folder.resolve()}\0{backend}\0{_engine_fingerprint()}".encode()).hexdigest()
            self.state_path = Path(var_dir) / "rules-state" / f"{key[:16]}.json"
        self._memory = _NOTHING  # the verdict, when there is no shared state file
        self._adopted = None  # (inode, mtime, size) of the state file last adopted
        with self._lock:
            self._stamps = self._scan()
            try:
                self._sync(first=True)
            except StoreUnavailable as e:  # the watcher tries again; /readyz says not ready meanwhile
                log.warning("rules: the release store is not reachable yet: %s", e)

    def validate(self, path: Path, calendar: WorkCalendar, text: str):
        """The validator of a verdict (a seam for tests): compile, or raise RulesError."""
        return compile_ruleset(path, calendar, text)

    # -- what changed --------------------------------------------------------------------
    def _scan(self) -> dict:
        stamps = {}
        try:
            paths = list(self.folder.glob("*.yaml"))
        except OSError:
            return stamps
        for path in paths:
            try:
                st = path.stat()
            except OSError:
                continue
            stamps[path.name] = (st.st_mtime_ns, st.st_size)
        return stamps

    def _state_stamp(self):
        try:
            st = os.stat(self.state_path)
        except (OSError, TypeError):
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def reload(self, force: bool = False) -> dict:
        """Pick up what changed: the active release, and in development mode the folder (re-read
        when forced), deciding it once for every worker.
        Returns what changed here: {name: "reloaded" | "rejected" | "removed"}."""
        with self._lock:
            if self.development:
                stamps = self._scan()
                if force or stamps != self._stamps:
                    self._stamps = stamps
                    return self._sync()
                if self.state_path is not None and self._state_stamp() != self._adopted:
                    state = self._read_state()
                    if state:
                        self._verdict = state
                        return self._serve({}, force=True)
            elif self.book.release is None:
                return self._sync(first=True)  # the store was not reachable at start-up
            return self._serve({}, force=force)

    # -- deciding once -------------------------------------------------------------------
    def _sync(self, first: bool = False) -> dict:
        """Decide the folder (development mode, or the import into an empty database), publish what
        it accepts as a release (under the lock: one worker publishes), then serve the active one."""
        if not (self.development or (first and self.governance.active() is None)):
            return self._serve({})
        try:
            with self._exclusive():
                state, compiled = self._decide_or_read()
                self._publish(state)
        except OSError as e:  # the var dir is not writable: this worker decides alone, and says so
            log.warning("rules: cannot share verdicts in %s (%s); this worker decides alone",
                        self.state_path.parent, e.strerror or e)
            self.state_path = None
            state, compiled = self._decide_or_read()
            self._publish(state)
        self._verdict = state
        return self._serve(compiled, force=True)

    def _publish(self, state: dict) -> None:
        """The texts the verdict serves (and the folder's rule tests) as a new active release."""
        files = {f"{stem}.yaml": e["text"] for stem, e in state["rulesets"].items() if e["text"] is not None}
        if not files:
            return
        if state["calendar"]["text"] is not None:
            files[CALENDAR_FILE] = state["calendar"]["text"]
        for path in sorted(self.folder.glob("tests/*/*.yaml"))[:MAX_TEST_FILES]:
            try:
                files[path.relative_to(self.folder).as_posix()] = decode(read_bytes(path), str(path))
            except RulesError as e:  # a rule test that cannot be read is left out, and said
                log.warning("rules: rule test left out of the release: %s", e)
        origin = "development" if self.development else "import"
        rel = self.governance.publish(ReleaseFiles(dict(sorted(files.items()))), origin=origin, actor=origin,
                                      message=f"{'saved change of' if self.development else 'import of'} {self.folder}")
        if rel:
            log.info("rules: release %s (%s) active: %s", rel["id"], origin, rel["digest"])

    def _serve(self, compiled: dict, force: bool = False) -> dict:
        """Serve the active release, with the refused edits of the folder's verdict beside it."""
        rid = self.governance.active()
        if rid == self.book.release and not force:
            return {}
        files = self.governance.store.snapshot(rid).files if rid else {}
        meta = self.governance.store.get(rid)["rulesets"] if rid else {}
        verdict = self._verdict
        state = {"error": verdict["error"],
                 "calendar": {"text": files.get(CALENDAR_FILE), "error": verdict["calendar"]["error"]},
                 "rulesets": {}}
        for stem, info in meta.items():  # a rule set's name is its file's stem (the compiler insists)
            state["rulesets"][stem] = {"text": files[f"{stem}.yaml"], "digest": info["digest"],
                                       "error": verdict["rulesets"].get(stem, {}).get("error")}
        for stem, entry in verdict["rulesets"].items():
            if stem not in state["rulesets"] and entry["error"]:
                state["rulesets"][stem] = {"text": None, "digest": None, "error": entry["error"]}
        return self._adopt(state, compiled, rid)

    @contextmanager
    def _exclusive(self):
        if self.state_path is None:
            yield
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.state_path.with_suffix(".lock"), "ab") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes
            yield

    def _decide_or_read(self) -> tuple[dict, dict]:
        current = self._read_state() or _NOTHING
        snap = read_snapshot(self.folder)
        if current["source"] == snap.digest:
            return current, {}
        state, compiled = self._decide(snap, current)
        self._write_state(state)
        return state, compiled

    def _read_state(self) -> dict | None:
        if self.state_path is None:
            return self._memory
        try:
            with open(self.state_path, encoding="utf-8") as f:
                st = os.fstat(f.fileno())
                state = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:  # damaged: decide again and replace it
            log.warning("rules: ignoring the unreadable verdict %s (%s)", self.state_path, e)
            return None
        self._adopted = (st.st_ino, st.st_mtime_ns, st.st_size)
        return state

    def _write_state(self, state: dict):
        if self.state_path is None:
            self._memory = state
            return
        tmp = self.state_path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(state, f, ensure_ascii=False)
                f.flush()
                os.fsync(f.fileno())
                st = os.fstat(f.fileno())
            os.replace(tmp, self.state_path)
        finally:
            tmp.unlink(missing_ok=True)
        self._adopted = (st.st_ino, st.st_mtime_ns, st.st_size)

    def _decide(self, snap: Snapshot, base: dict) -> tuple[dict, dict]:
        """The verdict on a snapshot, given the last one: a function of the contents only."""
        state = {"source": snap.digest, "decided_by": os.getpid(),
                 "decided_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                 "error": _dump(snap.error), "calendar": dict(base["calendar"]), "rulesets": base["rulesets"]}
        if snap.error:
            log.warning("rules: change of %s refused, the last good versions keep serving:\n%s",
                        self.folder, snap.error)
            return state, {}
        calendar = self._calendar(base["calendar"]["text"])
        try:
            if CALENDAR_FILE in snap.unreadable:
                raise snap.unreadable[CALENDAR_FILE]
            text = snap.texts.get(CALENDAR_FILE)
            calendar = self._calendar(text)
            state["calendar"] = {"text": text, "error": None}
        except RulesError as e:
            state["calendar"]["error"] = _dump(e)
            if _dump(e) != base["calendar"]["error"]:
                log.warning("rules: calendar edit refused, the previous calendar keeps serving:\n%s", e)
        state["rulesets"], compiled = {}, {}
        for name in sorted((set(snap.texts) | set(snap.unreadable)) - NOT_RULESETS):
            stem, path = Path(name).stem, self.folder / name
            last = base["rulesets"].get(stem, {})
            try:
                if name in snap.unreadable:
                    raise snap.unreadable[name]
                rs = self.validate(path, calendar, snap.texts[name])
                entry = {"text": snap.texts[name], "digest": rs.digest, "error": None}
                if rs.digest != last.get("digest"):
                    log.info("rule set %s: version %s %s accepted", stem, rs.version, rs.digest)
            except RulesError as e:
                rs, entry = None, {"text": None, "digest": None, "error": _dump(e)}
                if last.get("text") is not None:
                    try:
                        rs = self.validate(path, calendar, last["text"])
                        entry |= {"text": last["text"], "digest": rs.digest}
                    except RulesError:
                        pass  # the last good version no longer loads (under a new calendar): none serves
                if entry["error"] != last.get("error"):
                    log.warning("rule set %s: edit refused, %s:\n%s", stem,
                                f"{entry['digest']} keeps serving" if rs else "no version serves", e)
            if rs is not None:
                compiled[rs.digest] = rs
            state["rulesets"][stem] = entry
        for stem in base["rulesets"].keys() - state["rulesets"].keys():
            log.info("rule set %s removed", stem)
        return state, compiled

    def _calendar(self, text: str | None) -> WorkCalendar:
        if text is None:
            return WorkCalendar.package_only()
        return read_calendar(self.folder / CALENDAR_FILE, text)

    # -- loading a verdict ---------------------------------------------------------------
    def _adopt(self, state: dict, compiled: dict, release: str) -> dict:
        """Serve what `state` names as `release`; compile only texts this worker does not serve yet.
        The new book is built beside the served one and swapped in whole."""
        book = replace(self.book, rulesets=dict(self.book.rulesets), errors=dict(self.book.errors), release=release)
        report = {}
        source_error = _load(state["error"])
        if source_error and (not self.source_error or source_error.problems != self.source_error.problems):
            report[SOURCE] = "rejected"
        self.source_error = source_error
        cal = state["calendar"]
        recompile = cal["text"] != self._calendar_text
        if recompile:
            try:
                book.calendar = self._calendar(cal["text"])
                self._calendar_text = cal["text"]
            except RulesError as e:  # cannot happen for a validated text; kept visible if it does
                cal, recompile = {"error": _dump(e)}, False
        self._set_error(book, "calendar", _load(cal["error"]), report)
        for stem, entry in state["rulesets"].items():
            served = book.rulesets.get(stem)
            if entry["digest"] is None:
                if served:
                    del book.rulesets[stem]
            elif served is None or served.ruleset.digest != entry["digest"] or recompile:
                try:
                    rs = compiled.get(entry["digest"]) or compile_ruleset(self.folder / f"{stem}.yaml",
                                                                           book.calendar, entry["text"])
                    book.install(rs)
                    report[stem] = "reloaded"
                except RulesError as e:  # this worker cannot load what was accepted: say so, keep serving
                    log.warning("rule set %s: this worker cannot load the accepted version:\n%s", stem, e)
                    self._set_error(book, stem, e, report)
                    continue
            self._set_error(book, stem, _load(entry["error"]), report)
        for stem in (book.rulesets.keys() | book.errors.keys()) - state["rulesets"].keys() - {"calendar"}:
            book.rulesets.pop(stem, None)
            book.errors.pop(stem, None)
            report[stem] = "removed"
        self.book = book
        for name, what in report.items():
            if what == "rejected":
                self.on_failure(name)
        return report

    @staticmethod
    def _set_error(book: RuleBook, name: str, error: RulesError | None, report: dict):
        before = book.errors.get(name)
        if error is None:
            book.errors.pop(name, None)
        else:
            book.errors[name] = error
            if before is None or before.problems != error.problems:
                report[name] = "rejected"

    # -- the watcher ---------------------------------------------------------------------
    def watch(self, interval: float) -> threading.Thread:
        def loop():
            while not self._stop.wait(interval):
                try:
                    self.reload()
                    self._watch_failure = None
                except Exception as e:  # never let the watcher die, nor repeat one traceback every poll
                    if repr(e) != self._watch_failure:
                        log.exception("rules watcher failed; retrying")
                    self._watch_failure = repr(e)
        thread = threading.Thread(target=loop, name="rules-watcher", daemon=True)
        thread.start()
        return thread

    def stop(self):
        self._stop.set()

    def status(self) -> list[dict]:
        """Per rule set: what serves now, and the error of the last edit if it was refused."""
        out = []
        names = sorted(set(self.book.rulesets) | (set(self.book.errors) - {"calendar"}))
        for name in names:
            loaded = self.book.rulesets.get(name)
            error = self.book.errors.get(name)
            item = {"name": name}
            if loaded:
                rs = loaded.ruleset
                item |= {"title": rs.title, "version": rs.version, "digest": rs.digest,
                         "loaded_at": loaded.loaded_at.isoformat(timespec="seconds"), "decides": rs.decides}
            item["status"] = "ok" if not error else ("edit_rejected" if loaded else "failed")
            if error:
                item["error"] = _dump(error)
            out.append(item)
        if "calendar" in self.book.errors:
            out.append({"name": "calendar", "status": "edit_rejected",
                        "error": _dump(self.book.errors["calendar"])})
        if self.source_error:
            out.append({"name": SOURCE, "status": "edit_rejected" if self.book.rulesets else "failed",
                        "error": _dump(self.source_error)})
        return out
