"""The release workflow: who may do what to a release, and what is recorded when they do.

    draft ──submit──▶ submitted ──approve──▶ approved ──activate [at]──▶ scheduled ─▶ active ─▶ superseded
                          └──────reject──────┴──▶ rejected                              ▲
                                                         rollback (an earlier release) ─┘

Roles (api/settings.py): ``author`` creates and submits, ``approver`` approves, rejects, activates
and rolls back, ``admin`` activates and rolls back too. Maker-checker: nobody approves a release
they created or submitted, whatever their roles. Submitting gathers the evidence
(`releases.evidence`: load, check, rule tests, impact over the decisions logged in the last
``impact_days``) in the background and stores it with the release, with its progress; a release
whose rules do not load or whose tests fail cannot be approved, and one with open check findings
only with a written reason. A rollback by an admin who is not an approver is an emergency: allowed
without a second person, and recorded as such.

The ``scheduled``, ``active`` and ``superseded`` states are not stored: they follow from the
activations (`releases.store`) and the clock, so they are the same on every host.

Releases made without the workflow — the first import of the rules folder into an empty
database, and development mode's saved changes — are created by :meth:`Governance.publish`,
recorded with their origin, never through the API.
"""
from __future__ import annotations

import logging
from collections import defaultdict
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from engine.errors import RulesError

from .snapshot import Compiled, Snapshot, compile_snapshot
from .store import ReleaseStore, utcnow

log = logging.getLogger("aftersales.releases")

MAX_MESSAGE = 2000
"""Characters of a release message or a reason: a paragraph, not a document."""
EVIDENCE_STALE_S = 600
"""Evidence that made no progress for this long was lost with its process: submit may run it again."""
PROGRESS_EVERY_S = 0.5
"""At most one progress write per this many seconds while the evidence is gathered."""
SCHEDULE_SLACK_S = 60
"""An activation `at` up to this far in the past is taken as now (clocks and typing differ)."""


@dataclass(frozen=True)
class Actor:
    name: str
    roles: frozenset

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))


class WorkflowError(Exception):
    """A request the workflow refuses: an HTTP status, a stable kind, and a sentence saying why."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def _require(actor: Actor, *roles: str) -> None:
    if not actor.has(*roles):
        raise WorkflowError(403, "forbidden", f"{actor.name} lacks the role {' or '.join(roles)}")


def _text(value, what: str, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise WorkflowError(422, "reason-required" if what == "reason" else "invalid-request",
                                f"{what} is required")
        return None
    if not isinstance(value, str):
        raise WorkflowError(422, "invalid-request", f"{what} must be text")
    if len(value) > MAX_MESSAGE:
        raise WorkflowError(422, "invalid-request", f"{what} is longer than {MAX_MESSAGE} characters")
    return value.strip()


def state_of(release: dict, mine: list, current: str | None, now: datetime) -> tuple[str, datetime | None]:
    """(state, the instant it is scheduled for or None): the stored status, or what the release's own
    activations (`mine`) make of it at `now`; `current` is the active release (ReleaseStore.active)."""
    if release["id"] == current:
        return "active", None
    future = [a["effective_at"] for a in mine if a["effective_at"] > now]
    if future:
        return "scheduled", min(future)
    if mine:
        return "superseded", None
    return release["status"], None


class Governance:
    def __init__(self, store: ReleaseStore, *, cases: Callable[[datetime], Iterable[dict]] | None = None,
                 impact_days: int = 30, backend: str = "python", background: bool = True):
        self.store = store
        self.cases = cases or (lambda since: ())
        self.impact_days = impact_days
        self.backend = backend
        self.background = background

    # -- reading -------------------------------------------------------------------------
    def _get(self, rid: str) -> dict:
        rel = self.store.get(rid) if isinstance(rid, str) and len(rid) <= 40 else None
        if rel is None:
            raise WorkflowError(404, "unknown-release", f"no release {str(rid)[:40]!r}")
        return rel

    def _view(self, rel: dict, mine: list, current: str | None, now: datetime) -> dict:
        state, at = state_of(rel, mine, current, now)
        out = {k: rel[k] for k in ("id", "digest", "parent", "author", "message", "origin", "status",
                                   "rulesets", "evidence_state", "evidence_progress")}
        out |= {"created_at": rel["created_at"].isoformat(), "state": state,
                "scheduled_at": at.isoformat() if at else None}
        return out

    def list(self) -> list[dict]:
        now, by_release, listed = utcnow(), defaultdict(list), self.store.list()
        for a in self.store.activations([r["id"] for r in listed]):
            by_release[a["release_id"]].append(a)
        current = self.store.active(now)
        return [self._view(r, by_release[r["id"]], current, now) for r in listed]

    def show(self, rid: str) -> dict:
        rel = self._get(rid)
        now = utcnow()
        mine = self.store.activations([rid])
        out = self._view(rel, mine, self.store.active(now), now)
        out["load_problems"] = rel["load_problems"]
        out["evidence"] = rel["evidence"]
        out["events"] = [{"action": e["action"], "actor": e["actor"], "at": e["at"].isoformat(),
                          "reason": e["reason"], "detail": e["detail"]} for e in self.store.events(rid)]
        out["activations"] = [{"effective_at": a["effective_at"].isoformat(), "kind": a["kind"],
                               "actor": a["actor"], "emergency": a["emergency"]}
                              for a in mine]
        return out

    def snapshot(self, rid: str) -> Snapshot:
        self._get(rid)
        return self.store.snapshot(rid)

    def active(self) -> str | None:
        return self.store.active()

    def diff(self, a: str | None, b: str) -> dict:
        from .diff import diff  # the differ is only loaded when asked
        old = self.snapshot(a) if a else None
        d = diff(old, self.snapshot(b))
        return {**d, "from": a, "to": b, "from_digest": d["from"], "to_digest": d["to"]}

    # -- the workflow --------------------------------------------------------------------
    def create(self, actor: Actor, snap: Snapshot, message: str, parent: str | None = None) -> dict:
        _require(actor, "author")
        message = _text(message, "message", True)
        if parent is not None:
            self._get(parent)
        return self._create(snap, actor.name, message, "api", parent or self.store.active())

    def _create(self, snap: Snapshot, author: str, message: str, origin: str, parent: str | None,
                status: str = "draft", compiled: Compiled | None = None) -> dict:
        compiled = compiled or compile_snapshot(snap)
        rulesets = {name: {"digest": rs.digest, "version": rs.version} for name, rs in compiled.rulesets.items()}
        problems = [p.as_dict() for p in compiled.problems]
        return self.store.create(snap, author=author, message=message, origin=origin, parent=parent,
                                 rulesets=rulesets, load_problems=problems, status=status)

    def submit(self, actor: Actor, rid: str) -> dict:
        _require(actor, "author")
        rel = self._get(rid)
        stale = rel["evidence_state"] == "failed" or (
            rel["evidence_state"] == "running" and rel["evidence_updated_at"] is not None
            and (utcnow() - rel["evidence_updated_at"]).total_seconds() > EVIDENCE_STALE_S)
        if rel["status"] == "submitted" and stale:
            self.store.record(rid, "evidence-restarted", actor.name)
        elif not self.store.transition(rid, ("draft",), "submitted", actor=actor.name, action="submitted",
                                       evidence_state="running", evidence_updated_at=utcnow()):
            raise WorkflowError(409, "wrong-state", f"release {rid} is {rel['status']}: only a draft can be submitted")
        self.store.set_evidence(rid, "running", {"step": "queued", "done": 0, "total": None})
        if self.background:
            threading.Thread(target=self._gather, args=(rid,), name=f"evidence-{rid}", daemon=True).start()
        else:
            self._gather(rid)
        return self.show(rid)

    def _gather(self, rid: str) -> None:
        from .evidence import gather  # the tooling (check, tests, impact) is loaded only to gather
        last = [0.0]

        def progress(step: str, done: int, total: int | None) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY_S or (total is not None and done >= total):
                last[0] = time.monotonic()
                self.store.set_evidence(rid, "running", {"step": step, "done": done, "total": total})

        try:
            base_id = self.store.active()
            base = self.store.snapshot(base_id) if base_id and base_id != rid else None
            since = utcnow() - timedelta(days=self.impact_days)
            evidence = gather(self.store.snapshot(rid), base, self.cases(since), backend=self.backend,
                              progress=progress)
            evidence["base"] = base_id
            evidence["impact_days"] = self.impact_days
            self.store.set_evidence(rid, "done", {"step": "done", "done": 1, "total": 1}, evidence)
            self.store.record(rid, "evidence", "service", None,
                              {"ok_to_approve": evidence["ok_to_approve"], "needs_reason": evidence["needs_reason"]})
        except Exception as e:  # noqa: BLE001 - recorded with the release; submit may run it again
            log.exception("evidence of release %s failed", rid)
            self.store.set_evidence(rid, "failed", {"step": "failed", "error": f"{type(e).__name__}: {e}"[:500]})

    def approve(self, actor: Actor, rid: str, reason: str | None = None) -> dict:
        _require(actor, "approver")
        rel = self._get(rid)
        reason = _text(reason, "reason", False)
        makers = {e["actor"] for e in self.store.events(rid) if e["action"] in ("created", "submitted")}
        if actor.name in makers | {rel["author"]}:
            raise WorkflowError(403, "maker-checker", f"{actor.name} made release {rid}: "
                                "a release is approved by a different person")
        if rel["status"] != "submitted":
            raise WorkflowError(409, "wrong-state", f"release {rid} is {rel['status']}: only a submitted one can be approved")
        evidence = rel["evidence"] if rel["evidence_state"] == "done" else None
        if evidence is None:
            raise WorkflowError(409, "evidence-pending", f"the evidence of release {rid} is {rel['evidence_state']}: "
                                "approve once it is done")
        if not evidence["ok_to_approve"]:
            raise WorkflowError(409, "evidence-failed", f"release {rid} cannot be approved: its rules do not load "
                                "or its rule tests fail (see its evidence)")
        if evidence["needs_reason"] and not reason:
            raise WorkflowError(422, "reason-required", f"release {rid} has check findings: approving it needs a "
                                "written reason")
        if not self.store.transition(rid, ("submitted",), "approved", actor=actor.name, action="approved",
                                     reason=reason):
            raise WorkflowError(409, "wrong-state", f"release {rid} was moved by someone else meanwhile")
        return self.show(rid)

    def reject(self, actor: Actor, rid: str, reason: str) -> dict:
        _require(actor, "approver")
        rel = self._get(rid)
        reason = _text(reason, "reason", True)
        if not self.store.transition(rid, ("submitted", "approved"), "rejected", actor=actor.name,
                                     action="rejected", reason=reason):
            raise WorkflowError(409, "wrong-state", f"release {rid} is {rel['status']}: only a submitted or "
                                "approved one can be rejected")
        return self.show(rid)

    def activate(self, actor: Actor, rid: str, at: datetime | None = None, reason: str | None = None) -> dict:
        _require(actor, "approver", "admin")
        rel = self._get(rid)
        reason = _text(reason, "reason", False)
        now = utcnow()
        if at is not None and at < now - timedelta(seconds=SCHEDULE_SLACK_S):
            raise WorkflowError(422, "invalid-request", f"at {at.isoformat()} is in the past")
        mine = self.store.activations([rid])
        if rel["status"] != "approved" or mine:
            state, _ = state_of(rel, mine, self.store.active(now), now)
            raise WorkflowError(409, "wrong-state", f"release {rid} is {state}: only an approved release not yet "
                                "activated can be activated (an earlier one: rollback)")
        self.store.activate(rid, max(at or now, now), kind="activate", actor=actor.name, reason=reason)
        return self.show(rid)

    def rollback(self, actor: Actor, to: str | None = None, reason: str | None = None) -> dict:
        """Activate an earlier active release again (default: the one active before the current)."""
        _require(actor, "approver", "admin")
        reason = _text(reason, "reason", True)
        now = utcnow()
        current = self.store.active(now)
        if to is None:
            to = self.store.previously_active(now, other_than=current)
            if to is None:
                raise WorkflowError(409, "nothing-to-roll-back", "no earlier release was ever active")
        self._get(to)
        was_active = any(a["effective_at"] <= now for a in self.store.activations([to]))
        if to == current or not was_active:
            raise WorkflowError(409, "wrong-state", f"release {to} is {'active' if to == current else 'never active'}: "
                                "a rollback activates an earlier active release")
        emergency = not actor.has("approver")
        self.store.activate(to, now, kind="rollback", actor=actor.name, emergency=emergency, reason=reason)
        if emergency:
            log.warning("release %s: emergency rollback by %s without a second person: %s", to, actor.name, reason)
        return self.show(to)

    def publish(self, snap: Snapshot, *, origin: str, actor: str, message: str) -> dict | None:
        """Create and activate `snap` without the workflow (the first import of the rules folder, or
        development mode); None when the last release of that origin already has this content, or
        when importing and another host imported first."""
        if self._published(snap, origin):  # asked first: most saves (a refused edit) change nothing served
            return None
        compiled = compile_snapshot(snap)
        if compiled.errors:
            raise RulesError(compiled.problems)
        with self.store.exclusive():
            if self._published(snap, origin):  # another worker or host was quicker
                return None
            rel = self._create(snap, actor, message, origin, self.store.active(), status="approved",
                               compiled=compiled)
            self.store.activate(rel["id"], utcnow(), kind=origin, actor=actor,
                                reason=f"{origin}: activated without review")
        return rel

    def _published(self, snap: Snapshot, origin: str) -> bool:
        """Whether publishing `snap` would change nothing: the last release of the folder has this
        content, or (importing) a release is active already."""
        last = self.store.latest(("import", "development"))
        return (last is not None and last["digest"] == snap.digest) or (origin == "import" and bool(self.store.active()))

