"""The rules the service decides with, reloaded while requests continue.

A watcher thread checks the rules folder's files (name, size, mtime) every few
seconds. A changed rule set is compiled and checked in the background; only a
version that loads is swapped in (one dict assignment: a request that already
took a version finishes with it). A broken edit is refused: the previous version
keeps serving and the error is kept, with file and line, for `GET /v1/rulesets`.
A change to `calendar.yaml` reloads everything, since deadlines depend on it.
Versions replaced are not freed from durable-rules (it cannot delete a ruleset);
each costs a few hundred kB, so a long-lived process with very frequent edits
should be restarted now and then.
"""
from __future__ import annotations

import logging
import threading

from pathlib import Path

from engine.calendar import load_calendar
from engine.errors import RulesError
from engine.rulebook import NOT_RULESETS, RuleBook

log = logging.getLogger("aftersales.rules")


class RuleSource:
    def __init__(self, folder: Path, backend: str, on_failure=None):
        self.folder = Path(folder)
        self.backend = backend
        self.on_failure = on_failure or (lambda name: None)
        self._lock = threading.Lock()
        self._stamps = self._scan()
        self.book = RuleBook.load(self.folder, backend)
        for name in self.book.errors:
            self.on_failure(name)
        self._stop = threading.Event()

    def _scan(self) -> dict:
        stamps = {}
        for path in self.folder.glob("*.yaml"):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            stamps[path.name] = (st.st_mtime_ns, st.st_size)
        return stamps

    def reload(self, force: bool = False) -> dict:
        """Load what changed (everything when forced). Returns {name: "reloaded" | "rejected" | "removed"}."""
        with self._lock:
            stamps = self._scan()
            changed = {n for n in stamps.keys() | self._stamps.keys() if stamps.get(n) != self._stamps.get(n)}
            if force or "calendar.yaml" in changed:
                changed = set(stamps) | (changed - set(stamps))
                calendar_ok = self._reload_calendar()
                if not calendar_ok:
                    self._stamps = stamps
                    return {"calendar": "rejected"}
            report = {}
            for name in sorted(changed - NOT_RULESETS):
                stem = Path(name).stem
                if name not in stamps:
                    self.book.rulesets.pop(stem, None)
                    self.book.errors.pop(stem, None)
                    report[stem] = "removed"
                    continue
                loaded = self.book.load_file(self.folder / name)
                report[stem] = "reloaded" if loaded else "rejected"
                if loaded is None:
                    self.on_failure(stem)
                    log.warning("rule set %s: edit rejected, previous version keeps serving:\n%s",
                                stem, self.book.errors[stem])
                else:
                    log.info("rule set %s reloaded: version %s %s", stem, loaded.ruleset.version,
                             loaded.ruleset.digest)
            self._stamps = stamps
            return report

    def _reload_calendar(self) -> bool:
        try:
            self.book.calendar = load_calendar(self.folder / "calendar.yaml")
        except RulesError as e:
            self.book.errors["calendar"] = e
            self.on_failure("calendar")
            return False
        self.book.errors.pop("calendar", None)
        return True

    def watch(self, interval: float) -> threading.Thread:
        def loop():
            while not self._stop.wait(interval):
                try:
                    self.reload()
                except Exception:  # never let the watcher die silently
                    log.exception("rules watcher failed; retrying")
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
                item["error"] = [p.as_dict() for p in error.problems]
            out.append(item)
        if "calendar" in self.book.errors:
            out.append({"name": "calendar", "status": "edit_rejected",
                        "error": [p.as_dict() for p in self.book.errors["calendar"].problems]})
        return out


