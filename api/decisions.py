"""Deciding through the service: evaluate, give the decision an id, log it durably.

A decision is written to the decision log — and committed — before the response
leaves, so every 200 the caller saw can be found again. Inputs marked `pii: true`,
and the derived facts and outputs computed from them, are masked by the log itself
wherever they appear in what it keeps (api/decision_log.prepare); the caller still
gets its decision in full.
"""
from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timezone

from engine.errors import CaseError, DecisionConflict, EvaluationLimit

from .decision_log import LogEntry, PreparedEntry, UnstorableEntry, prepare
from .metrics import DECISIONS, LATENCY
from .problems import Problem, case_errors


def _outcome(ruleset, response: dict) -> str:
    """A label for metrics with few values: the first enum output of the rule set (e.g. the remedy)."""
    for name, o in ruleset.outputs.items():
        if o.type.kind == "enum" and o.combine != "collect":
            return f"{name}={response['decision'].get(name, 'none')}"
    return "decided"


class GroupCommit:
    """Decisions of concurrent requests committed together: one transaction (one fsync) for all
    that are waiting, and each caller still returns only once its own entries are committed.

    The first caller to find no commit under way leads: it takes every entry queued so far,
    records them in one `log.record`, and wakes their callers; those that queued meanwhile go
    in the next group. A failed group is retried caller by caller, so an error reaches only
    the request it belongs to. (The profile of bench/http_load.py showed the one-commit-per-
    decision log as 43% of a worker's time, most of it waiting for SQLite's write lock.)
    """

    def __init__(self, log):
        self.log = log
        self._cond = threading.Condition()
        self._queue: list = []
        self._leading = False
        self.groups = self.entries = 0

    def record(self, entries: list) -> None:
        mine = {"entries": entries, "done": False, "error": None}
        with self._cond:
            self._queue.append(mine)
            while not mine["done"] and self._leading:
                self._cond.wait()
            if mine["done"]:
                if mine["error"] is not None:
                    raise mine["error"]
                return
            self._leading = True
            group, self._queue = self._queue, []
        try:
            self._commit(group)
        finally:
            with self._cond:
                self._leading = False
                self._cond.notify_all()
        if mine["error"] is not None:
            raise mine["error"]

    def _commit(self, group: list) -> None:
        try:
            self.log.record([e for item in group for e in item["entries"]])
        except BaseException as e:  # noqa: BLE001 - handed to the callers
            if len(group) == 1:
                group[0]["error"] = e
            else:
                for item in group:
                    try:
                        self.log.record(item["entries"])
                    except BaseException as one:  # noqa: BLE001
                        item["error"] = one
        self.groups += 1
        self.entries += sum(len(item["entries"]) for item in group)
        for item in group:
            item["done"] = True


class DecisionService:
    def __init__(self, source, log):
        self.source = source
        self.log = log
        self.commits = GroupCommit(log)

    def loaded(self, name: str):
        return self._serving(name)[0]

    def _serving(self, name: str):
        """(the rule set, the release it comes from), read from one book: a switch of release
        meanwhile cannot pair one release's name with another's rules."""
        book = self.source.book
        loaded = book.rulesets.get(name)
        if loaded is None and book.release is None:
            raise Problem(503, "Service Unavailable", "no release is served yet: the database holding the "
                          "releases has not been reached; nothing was decided", kind="rules-unavailable")
        if loaded is None:
            raise Problem(404, "Not Found", f"unknown rule set {name!r}", kind="unknown-ruleset")
        return loaded, book.release

    def _decide(self, loaded, release, case, as_of, explain, caller) -> tuple[dict, PreparedEntry]:
        started = time.perf_counter()
        try:
            decision = loaded.decide(case, as_of=as_of, explain=explain)
        except EvaluationLimit as e:  # a valid case the policy cannot decide: 422 naming the rule, not a 5xx
            DECISIONS.labels(loaded.ruleset.name, "limit").inc()
            raise Problem(422, "Case cannot be decided", f"{e.where}: {e.message}",
                          kind="evaluation-limit") from None
        except CaseError as e:
            DECISIONS.labels(loaded.ruleset.name, "invalid").inc()
            raise Problem(422, "Invalid case", "the case does not fit the rule set's inputs",
                          errors=case_errors(e.errors), kind="invalid-case") from None
        except DecisionConflict as e:
            DECISIONS.labels(loaded.ruleset.name, "conflict").inc()
            raise Problem(500, "Rule conflict", f"the rule set contradicts itself here: {e}",
                          kind="rule-conflict") from None
        duration = (time.perf_counter() - started) * 1000
        response = {"decision_id": str(uuid.uuid4()), **decision.to_json(), "release": release}
        entry = LogEntry(decision_id=response["decision_id"], created_at=datetime.now(timezone.utc),
                         ruleset=loaded.ruleset.name, version=loaded.ruleset.version, digest=loaded.ruleset.digest,
                         as_of=response["as_of"], case=case, response=response,
                         fired=[f["id"] for f in response["fired"]], duration_ms=duration, caller=caller,
                         release=release, pii=loaded.ruleset.personal)
        try:
            return response, prepare(entry)  # checked and masked here, per case: a batch item's own error
        except UnstorableEntry as e:
            DECISIONS.labels(loaded.ruleset.name, "invalid").inc()
            raise Problem(422, "Invalid case", "the case holds a value the decision log cannot store",
                          errors={e.field: [e.problem]}, kind="invalid-case") from None

    def decide(self, name, case, as_of, explain, caller) -> dict:
        loaded, release = self._serving(name)  # one version for the whole request, whatever reloads meanwhile
        with LATENCY.labels(name).time():
            response, entry = self._decide(loaded, release, case, as_of, explain, caller)
            self.commits.record([entry])
        DECISIONS.labels(name, _outcome(loaded.ruleset, response)).inc()
        return response

    def decide_batch(self, name, cases, as_of, explain, caller) -> list:
        loaded, release = self._serving(name)
        results, entries = [], []
        with LATENCY.labels(name).time():
            for i, case in enumerate(cases):
                try:
                    response, entry = self._decide(loaded, release, case, as_of, explain, caller)
                except Problem as p:
                    if p.errors and "case" in p.errors:  # the item is not an object: name it by its place
                        p.errors[f"cases[{i}]"] = p.errors.pop("case")
                    results.append({"index": i, "error": p.body()})
                    continue
                results.append(response)
                entries.append(entry)
            if entries:
                self.commits.record(entries)  # one transaction: the whole batch is durable before the reply
        for r in results:
            if "decision" in r:
                DECISIONS.labels(name, _outcome(loaded.ruleset, r)).inc()
        return results
