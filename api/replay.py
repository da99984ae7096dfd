"""Replay: decide a logged decision again with its own release and `as_of`, and say whether the
result is the one that was returned, field by field.

    replayer = Replayer(governance.store, "python")
    replayer.replay(log.get(decision_id))    # {"decision_id", "release", "identical", "differences"}

The same Replayer serves `GET /v1/decisions/{id}/replay` (api/releases.py) and `aftersales replay`
(which replays every entry of DecisionLog.iter_entries), so it knows nothing of Flask. Each release
is compiled once and kept while it is among the MAX_BOOKS used last. Both sides are compared as
the API writes them (api.jsonout), so `1.50` logged as a number and Decimal("1.50") replayed are
the same value.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from engine.errors import CaseError, DecisionConflict, EvaluationLimit, RulesError
from engine.rulebook import RuleBook
from releases.snapshot import compile_snapshot
from releases.store import ReleaseStore

from . import jsonout

MAX_BOOKS = 4
"""Compiled releases kept: a replay in bulk walks the log in time order, so it needs the one or two
releases of a period at a time; each book is a few MB (and with the durable backend, never freed
by durable-rules), so the cache is not the release history."""
MAX_DIFFERENCES = 100
"""Differences listed per decision: enough to see what changed, bounded for a decision whose whole
explanation differs (the count beyond is said)."""
MAX_DEPTH = 100
"""Nesting compared field by field; deeper, a subtree is compared whole (the log stores no deeper
JSON: api.decision_log.records.MAX_JSON_DEPTH)."""
IGNORED = ("decision_id",)
"""Fields a replay cannot reproduce: each decision gets a new id."""


class NotReplayable(Exception):
    """A logged decision that cannot be decided again; the message says why."""


class Replayer:
    def __init__(self, store: ReleaseStore, backend: str):
        self.store = store
        self.backend = backend
        self._books: OrderedDict = OrderedDict()  # release id → RuleBook, least recently used first
        self._lock = threading.Lock()

    def book(self, release: str) -> RuleBook:
        """The release compiled and bound to the backend, from the cache when it is there."""
        with self._lock:
            if release in self._books:
                self._books.move_to_end(release)
                return self._books[release]
            if self.store.get(release) is None:
                raise NotReplayable(f"release {release} is not in the release store")
            compiled = compile_snapshot(self.store.snapshot(release))
            book = RuleBook(Path(), self.backend, compiled.calendar, release=release)
            book.errors.update(compiled.errors)
            for rs in compiled.rulesets.values():
                try:
                    book.install(rs)
                except RulesError as e:  # the backend refuses it: the decisions of that rule set say so
                    book.errors[rs.name] = e
            self._books[release] = book
            while len(self._books) > MAX_BOOKS:
                self._books.popitem(last=False)
            return book

    def replay(self, record: dict) -> dict:
        """`record` as DecisionLog.get returns it → whether deciding it again gives the logged response."""
        release, name = record.get("release"), record["ruleset"]
        if release is None:
            raise NotReplayable(f"decision {record['decision_id']} was made before releases: "
                                "no release names the rules it was made with")
        book = self.book(release)
        loaded = book.rulesets.get(name)
        if loaded is None:
            problems = book.errors.get(name)
            raise NotReplayable(f"release {release} has no rule set {name!r} that loads"
                                + (f": {problems}" if problems else ""))
        logged = record["response"]
        explain = "full" if "not_fired" in logged else "fired"
        try:
            decision = loaded.decide(record["case"], as_of=record["as_of"], explain=explain)
        except (CaseError, EvaluationLimit, DecisionConflict) as e:
            raise NotReplayable(f"release {release} no longer decides the logged case: "
                                f"{type(e).__name__}: {e}") from None
        replayed = {**decision.to_json(), "release": release}
        differences = []
        _compare(_normal(logged), _normal(replayed), "", differences)
        out = {"decision_id": record["decision_id"], "release": release, "identical": not differences,
               "differences": differences[:MAX_DIFFERENCES]}
        if len(differences) > MAX_DIFFERENCES:
            out["differences_omitted"] = len(differences) - MAX_DIFFERENCES
        return out


def _normal(response: dict) -> dict:
    """The response as a client reads it, without the fields a replay cannot reproduce."""
    return {k: v for k, v in jsonout.loads(jsonout.dumps(response)).items() if k not in IGNORED}


def _compare(logged, replayed, path: str, out: list, depth: int = 0) -> None:
    """Append {"field", "logged", "replayed"} for each leaf that differs; a field one side lacks
    has no value under that side's key. Stops looking once MAX_DIFFERENCES + 1 are found."""
    if len(out) > MAX_DIFFERENCES:
        return
    if isinstance(logged, dict) and isinstance(replayed, dict) and depth < MAX_DEPTH:
        for key in list(logged) + [k for k in replayed if k not in logged]:
            field = f"{path}.{key}" if path else key
            if key not in replayed:
                out.append({"field": field, "logged": logged[key]})
            elif key not in logged:
                out.append({"field": field, "replayed": replayed[key]})
            else:
                _compare(logged[key], replayed[key], field, out, depth + 1)
    elif (isinstance(logged, list) and isinstance(replayed, list) and len(logged) == len(replayed)
          and depth < MAX_DEPTH):
        for i, (a, b) in enumerate(zip(logged, replayed)):
            _compare(a, b, f"{path}[{i}]", out, depth + 1)
    elif logged != replayed or type(logged) is not type(replayed):
        out.append({"field": path, "logged": logged, "replayed": replayed})
