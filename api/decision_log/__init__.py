"""Decision log: every decision the service returns, stored durably before the response is sent.

Two stores behind one class, :class:`DecisionLog`, which picks one from the URL given to
:meth:`DecisionLog.open`: SQLite (``None`` or ``sqlite:///path.db``, the embedded default:
`api.decision_log.sqlite`) and PostgreSQL (``postgresql://…``, production:
`api.decision_log.postgres`); what a store does and the schema both keep are in
`api.decision_log.store`.  An entry is checked, its personal data masked and its JSON written once,
by :func:`prepare` (`api.decision_log.records`), before any store sees it.

Paging (``page``) is keyset paging on ``(created_at, decision_id)``: ``since`` is inclusive,
``until`` exclusive, naive datetimes are taken as UTC.  The cursor is opaque
(`api.decision_log.cursors`); a cursor that is not one ``page`` issued, or a ``since``/``until``
that leaves the years 1-9999 in UTC, is a ``ValueError`` with a message (the HTTP routes answer
400).  Pages are stable for a window that is already in the past; a decision committed late with a
timestamp behind a cursor that has moved past it is not revisited (use ``until`` a little in the
past for exports).

Threads and processes: one connection per operation from a pool, so any number of Flask/gunicorn
threads may call one ``DecisionLog``.  Open one ``DecisionLog`` per process *after* fork
(gunicorn's default without ``--preload``).

Errors (`api.decision_log.errors`): a duplicate decision id raises :class:`DuplicateDecisionError`;
a store that cannot be reached or fails raises :class:`DecisionLogUnavailable` (both are
:class:`DecisionLogError`); an entry that cannot be stored raises :class:`UnstorableEntry`.
``open`` does not fail when PostgreSQL is down: the schema is created on the first connection that
succeeds, and ``ping`` reports reachability for ``/readyz``; ``writable`` reports whether a
decision can be stored now (a committed write of the probe row: a read-only database or a full
disk answers False).  ``open`` raises ``ValueError`` for a URL it does not understand, naming the
scheme (never echoing the URL, which may hold a password).
"""
from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Iterator

from db import Database

from .cursors import MAX_CURSOR_CHARS, decode_cursor, encode_cursor
from .errors import (
    DecisionLogError,
    DecisionLogUnavailable,
    DuplicateDecisionError,
    UnstorableEntry,
)
from .postgres import PostgresStore
from .records import (
    MAX_DECISION_ID_CHARS,
    LogEntry,
    PreparedEntry,
    prepare,
    text_problem,
    utc,
)
from .sqlite import DEFAULT_DURABILITY, SQLiteStore
from .store import Store

__all__ = [
    "MAX_CURSOR_CHARS",
    "MAX_DECISION_ID_CHARS",
    "MAX_PAGE",
    "PROBE_MAX_AGE_S",
    "DecisionLog",
    "DecisionLogError",
    "DecisionLogUnavailable",
    "DuplicateDecisionError",
    "LogEntry",
    "PreparedEntry",
    "UnstorableEntry",
    "prepare",
]

log = logging.getLogger(__name__)

MAX_PAGE = 10_000
# /readyz writes the probe row at most this often per process (a probe is one small commit with
# an fsync); callers in between get the last answer.
PROBE_MAX_AGE_S = 1.0


# --------------------------------------------------------------------------- the log

class DecisionLog:
    """The decision log; see the module docstring.  Create with :meth:`open`."""

    def __init__(self, backend: "Store"):
        self._b = backend
        self._probe_lock = threading.Lock()
        self._probed_at = -math.inf
        self._writable: bool | None = None   # the last probe's answer; None before the first

    @classmethod
    def open(cls, url: str | None, var_dir: str | Path = "var",
             durability: str = DEFAULT_DURABILITY) -> "DecisionLog":
        """`durability` (SQLite; `api.decision_log.sqlite.DURABILITY`): what a committed decision
        survives. PostgreSQL's is the server's own (`synchronous_commit`)."""
        db = Database.from_url(url, var_dir)
        return cls(SQLiteStore(db.sqlite_path, durability) if db.kind == "sqlite" else PostgresStore(db.pg_url))

    @property
    def kind(self) -> str:
        return self._b.kind

    @property
    def target(self) -> str:
        """Where the log is, without any password (for logs and diagnostics)."""
        return self._b.target

    def __repr__(self) -> str:
        return f"<DecisionLog {self.target}>"

    def record(self, entries: list[LogEntry | PreparedEntry]) -> None:
        """Store all entries in one transaction; committed (durable) when this returns.

        A LogEntry is prepared here (:func:`prepare`: checked and masked); raises UnstorableEntry."""
        rows = [(e if isinstance(e, PreparedEntry) else prepare(e)).row for e in entries]
        if not rows:
            return
        self._b.record(rows)

    def get(self, decision_id: str) -> dict | None:
        if not isinstance(decision_id, str) or len(decision_id) > MAX_DECISION_ID_CHARS \
                or text_problem(decision_id):
            return None   # no such id can be in the log (and some could not even be sent to it)
        return self._b.get(decision_id)

    def page(self, ruleset: str | None = None, since: datetime | None = None,
             until: datetime | None = None, limit: int = 100,
             after: str | None = None) -> tuple[list[dict], str | None]:
        """Entries ordered by (created_at, decision_id), ``since <= created_at < until``.

        Returns the page and the cursor for the next one (``None`` when there is no more)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be an integer from 1 to {MAX_PAGE}")
        for name, v in (("since", since), ("until", until)):
            if v is not None and not isinstance(v, datetime):
                raise TypeError(f"{name} must be a datetime")
        if ruleset is not None and (not isinstance(ruleset, str) or text_problem(ruleset)):
            raise ValueError("ruleset must be text (no NUL, no lone surrogate)")
        key = decode_cursor(after) if after else None
        s = utc(since, "since") if since is not None else None
        u = utc(until, "until") if until is not None else None
        rows = self._b.page(ruleset, s, u, key, limit + 1)
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            return rows, encode_cursor(last["created_at"], last["decision_id"])
        return rows, None

    def iter_entries(self, ruleset: str | None = None, since: datetime | None = None,
                     until: datetime | None = None, batch: int = 500) -> Iterator[dict]:
        """Every matching entry in order, a page at a time (for a JSON Lines export)."""
        cursor = None
        while True:
            rows, cursor = self.page(ruleset, since, until, batch, cursor)
            yield from rows
            if cursor is None:
                return

    def ping(self) -> bool:
        """Whether the database answers (for /readyz); never raises."""
        try:
            return self._b.ping()
        except Exception:  # noqa: BLE001 - any failure means not ready
            return False

    def writable(self) -> bool:
        """Whether a decision can be stored now (for /readyz); never raises.

        Commits one row of the probe table, not a decision: a read-only database, a full disk or a
        store that refuses writes all answer False.  Probes at most every PROBE_MAX_AGE_S per
        process; in between, and while another thread probes, the last answer is given (False
        before the first).  A change of answer is logged once."""
        if time.monotonic() - self._probed_at < PROBE_MAX_AGE_S \
                or not self._probe_lock.acquire(blocking=False):
            return bool(self._writable)
        try:
            try:
                self._b.probe_write()
                ok = True
            except Exception as e:  # noqa: BLE001 - any failure means a decision cannot be stored
                ok = False
                if self._writable is not False:
                    log.warning("decision log %s cannot be written: %s", self.target, e)
            if ok and self._writable is False:
                log.warning("decision log %s can be written again", self.target)
            self._writable, self._probed_at = ok, time.monotonic()
            return ok
        finally:
            self._probe_lock.release()

    def close(self) -> None:
        self._b.pool.close()

    def __enter__(self) -> "DecisionLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


