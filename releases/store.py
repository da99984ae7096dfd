"""Releases in the database (SQLAlchemy Core, SQLite or PostgreSQL): their files, their workflow's
record and their activations.

Which release is active is not a flag on a row but a fact of the activations: the activation with
the latest ``effective_at`` that is not in the future (ties: the later recorded). So a scheduled
activation needs no timer anywhere: every host asks, and from its instant on every host gets the
same answer; a rollback is one more activation, of an earlier release. Times are UTC, written by
the host that records them (hosts are expected to keep NTP time).

Every change of a release's status is a conditional update (``WHERE status IN (…)``) in the same
transaction as its event, so two people pressing buttons at once cannot both win.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from db import Database, lock, migrate
from db.tables import release_activations, release_events, release_files, releases

from .snapshot import Snapshot

SUMMARY = [c for c in releases.c if c.name not in ("evidence", "load_problems")]
MAX_LIST = 500
"""Releases per listing, newest first: a page of the list, not the history of years."""


class StoreUnavailable(Exception):
    """The database cannot be reached or failed; the message names it (never its password)."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(t: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes: every time here is UTC."""
    return t.replace(tzinfo=timezone.utc) if t is not None and t.tzinfo is None else t


def _row(r) -> dict:
    d = dict(r._mapping)
    for k in ("created_at", "evidence_updated_at", "at", "effective_at", "recorded_at"):
        if k in d:
            d[k] = _aware(d[k])
    return d


class ReleaseStore:
    """The releases of one database; its schema is migrated before the first operation that finds
    the database up (so a service may start while PostgreSQL is still down)."""

    def __init__(self, db: Database):
        self.db = db
        self.engine = db.engine()
        self._migrated = False
        self._lock = threading.Lock()

    def _run(self, fn):
        try:
            if not self._migrated:
                with self._lock:
                    if not self._migrated:
                        migrate(self.db, self.engine)
                        self._migrated = True
            with self.engine.begin() as conn:
                return fn(conn)
        except SQLAlchemyError as e:
            raise self._unavailable(e) from None

    def _unavailable(self, e: Exception) -> StoreUnavailable:
        return StoreUnavailable(f"release store ({self.db.target}) failed: {e.__class__.__name__}: "
                                f"{str(e).splitlines()[0][:300]}")

    # -- writing -------------------------------------------------------------------------
    def create(self, snap: Snapshot, *, author: str, message: str, origin: str, parent: str | None,
               rulesets: dict, load_problems: list, status: str = "draft") -> dict:
        def work(conn):
            now = utcnow()
            seq = conn.execute(releases.insert().values(
                id=f"pending-{snap.digest}-{now.timestamp()}", digest=snap.digest, parent=parent, author=author,
                message=message, origin=origin, created_at=now, status=status, rulesets=rulesets,
                load_problems=load_problems, evidence_state="none")).inserted_primary_key[0]
            rid = f"r{seq}"
            conn.execute(releases.update().where(releases.c.seq == seq).values(id=rid))
            conn.execute(release_files.insert(), [{"release_id": rid, "name": n, "content": t}
                                                  for n, t in snap.files.items()])
            self._event(conn, rid, "created", author, message, {"origin": origin, "digest": snap.digest,
                                                                 "parent": parent})
            return rid
        return self.get(self._run(work))

    @staticmethod
    def _event(conn, rid, action, actor, reason=None, detail=None):
        conn.execute(release_events.insert().values(release_id=rid, action=action, actor=actor, at=utcnow(),
                                                    reason=reason, detail=detail))

    def transition(self, rid: str, from_: tuple, to: str, *, actor: str, action: str,
                   reason: str | None = None, detail: dict | None = None, **values) -> bool:
        """Move `rid` from one of `from_` to `to` and record it; False when its status was not one
        of `from_` (someone else moved it first)."""
        def work(conn):
            n = conn.execute(releases.update().where(releases.c.id == rid, releases.c.status.in_(from_))
                             .values(status=to, **values)).rowcount
            if n:
                self._event(conn, rid, action, actor, reason, detail)
            return bool(n)
        return self._run(work)

    def record(self, rid: str, action: str, actor: str, reason: str | None = None, detail: dict | None = None):
        self._run(lambda conn: self._event(conn, rid, action, actor, reason, detail))

    def set_evidence(self, rid: str, state: str, progress: dict | None = None, evidence: dict | None = None):
        values = {"evidence_state": state, "evidence_updated_at": utcnow(), "evidence_progress": progress}
        if evidence is not None:
            values["evidence"] = evidence
        self._run(lambda conn: conn.execute(releases.update().where(releases.c.id == rid).values(**values)))

    @contextmanager
    def exclusive(self):
        """One process of all hosts at a time (publishing the rules folder: two hosts starting on an
        empty database must not both import it)."""
        try:
            with lock(self.db, self.engine, "publish"):
                yield
        except SQLAlchemyError as e:
            raise self._unavailable(e) from None

    def activate(self, rid: str, effective_at: datetime, *, kind: str, actor: str, emergency: bool = False,
                 reason: str | None = None) -> None:
        effective_at = effective_at.astimezone(timezone.utc)  # SQLite keeps no offset: every time is UTC

        def work(conn):
            conn.execute(release_activations.insert().values(
                release_id=rid, effective_at=effective_at, kind=kind, actor=actor, emergency=emergency,
                recorded_at=utcnow()))
            self._event(conn, rid, kind if kind != "activate" or effective_at <= utcnow() else "scheduled",
                        actor, reason, {"effective_at": effective_at.isoformat(), "emergency": emergency})
        self._run(work)

    # -- reading -------------------------------------------------------------------------
    def get(self, rid: str) -> dict | None:
        r = self._run(lambda conn: conn.execute(sa.select(releases).where(releases.c.id == rid)).first())
        return _row(r) if r else None

    def snapshot(self, rid: str) -> Snapshot:
        rows = self._run(lambda conn: conn.execute(
            sa.select(release_files.c.name, release_files.c.content)
            .where(release_files.c.release_id == rid).order_by(release_files.c.name)).all())
        return Snapshot({name: content for name, content in rows})

    def list(self, limit: int = MAX_LIST) -> list[dict]:
        rows = self._run(lambda conn: conn.execute(
            sa.select(*SUMMARY).order_by(releases.c.seq.desc()).limit(min(limit, MAX_LIST))).all())
        return [_row(r) for r in rows]

    def events(self, rid: str) -> list[dict]:
        rows = self._run(lambda conn: conn.execute(
            sa.select(release_events).where(release_events.c.release_id == rid)
            .order_by(release_events.c.seq)).all())
        return [_row(r) for r in rows]

    def activations(self, release_ids: list[str]) -> list[dict]:
        """The activations of these releases (the callers ask for one, or a page of `list`), oldest first."""
        if len(release_ids) > MAX_LIST:
            raise ValueError(f"activations of {len(release_ids)} releases asked; at most {MAX_LIST}")
        a = release_activations
        rows = self._run(lambda conn: conn.execute(
            sa.select(a).where(a.c.release_id.in_(release_ids))
            .order_by(a.c.effective_at, a.c.seq)).all())
        return [_row(r) for r in rows]

    def previously_active(self, now: datetime, other_than: str | None) -> str | None:
        """The release of the latest activation in effect by `now` that is not `other_than`."""
        a = release_activations
        return self._run(lambda conn: conn.execute(
            sa.select(a.c.release_id).where(a.c.effective_at <= now, a.c.release_id != other_than)
            .order_by(a.c.effective_at.desc(), a.c.seq.desc()).limit(1)).scalar())

    def active(self, now: datetime | None = None) -> str | None:
        """The id of the release active at `now` (default: now); None before the first activation."""
        now = now or utcnow()
        a = release_activations
        return self._run(lambda conn: conn.execute(
            sa.select(a.c.release_id).where(a.c.effective_at <= now)
            .order_by(a.c.effective_at.desc(), a.c.seq.desc()).limit(1)).scalar())

    def latest(self, origins: tuple) -> dict | None:
        r = self._run(lambda conn: conn.execute(
            sa.select(*SUMMARY).where(releases.c.origin.in_(origins)).order_by(releases.c.seq.desc()).limit(1)).first())
        return _row(r) if r else None

    def close(self) -> None:
        self.engine.dispose()
