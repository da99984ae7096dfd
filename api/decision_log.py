"""Decision log: every decision the service returns, stored durably before the response is sent.

Two stores behind one class, :class:`DecisionLog`:

* **SQLite** (embedded default, zero set-up): ``DecisionLog.open(None)`` opens ``var/decisions.db``
  (the folder is created on demand); ``sqlite:///relative/path.db`` and ``sqlite:////abs/path.db``
  (SQLAlchemy's spelling) pick another file.  The database runs in WAL mode with
  ``synchronous=FULL``: every commit fsyncs the WAL, so a decision whose ``record`` returned survives
  a crash of the process *and* of the machine (power loss).  ``synchronous=NORMAL`` would survive a
  process crash only.
* **PostgreSQL** (production): ``postgresql://user:password@host:port/db?...`` (``postgres://`` too),
  typically from ``AFTERSALES_DATABASE_URL``.  Server defaults (``synchronous_commit=on``) make a
  commit durable when it returns.  Any libpq parameter may ride on the URL, e.g.
  ``?connect_timeout=3`` or ``?options=-csearch_path%3Dmyschema`` to keep the table in a schema.
  Without ``connect_timeout`` in the URL, connecting gives up after 5 s.

What a commit costs, measured on the project's 2-core build machine (virtio disk with a write-back
cache; one decision per ``record`` call, i.e. one commit; median of 300, three runs):

    SQLite WAL synchronous=FULL     0.31-0.39 ms  (the default here: one fsync of the WAL per commit)
    SQLite WAL synchronous=NORMAL   0.03-0.07 ms  (for comparison: survives a process crash only)
    PostgreSQL 15 on loopback       0.50-0.54 ms  (fsync=on, synchronous_commit=on)

So durability costs SQLite about 0.3 ms per commit here; on a disk whose flush really reaches the
platter or a cloud volume it is the device's flush latency (typically 1-10 ms).  A batch is one
commit: 100 decisions in one ``record`` took about 3 ms on either store.

Schema (created on open if missing; safe when several worker processes open at once)::

    decisions(decision_id PK, created_at, ruleset, version, digest, as_of,
              case_data, response, fired, duration_ms, caller)
    index (ruleset, created_at, decision_id), index (created_at, decision_id)
    decision_log_probe(id PK, probed_at)    -- one row, rewritten by ``writable`` (/readyz)

SQLite keeps JSON as TEXT and ``created_at`` as fixed-width UTC ISO text
(``2026-11-25T01:02:03.000004Z``), which sorts as time does; PostgreSQL keeps JSONB and TIMESTAMPTZ
(``fired`` as ``text[]``).  Rows come back as plain dicts with ``created_at`` in that same UTC ISO
form on both stores, so the HTTP layer can serialise them directly.  JSON follows the API's
convention (``api/jsonout``): written with ``ensure_ascii=False`` (Chinese stays Chinese), a
``Decimal`` written as the exact JSON number it spells, and numbers with a fraction or exponent read
back as ``Decimal`` -- nothing ever passes through a binary float, and money, which the engine
already writes as strings, stays a string.  (A Python float given to ``record`` therefore comes back
as the Decimal of its shortest repr: ``0.15`` -> ``Decimal("0.15")``.)  JSONB does not keep object
key order, and, like JSON itself, cannot hold NaN/Infinity or a NUL character in a string, and
neither store can hold a lone surrogate (``"\\ud800"``, which is not UTF-8): ``record`` (and
``prepare``) refuse those on both stores with :class:`UnstorableEntry` (a ``ValueError``) naming
the field, e.g. ``case.customer_name``, rather than letting them fail inside the database.

Personal data: ``LogEntry.pii`` names the inputs marked ``pii: true`` and the facts and outputs
computed from them (api/decisions.py works them out from the rule set).  The log masks them in
one place, :func:`prepare`: every value under such a key, at any depth of the stored case and
response (case fields, ``fired[].values``, ``not_fired[].values``, outputs, ``fired[].sets``), is
stored as ``"***"`` (``null`` stays ``null``).  What the caller receives is not touched.

Paging (``page``) is keyset paging on ``(created_at, decision_id)``: ``since`` is inclusive,
``until`` exclusive, naive datetimes are taken as UTC.  The cursor is opaque (base64url); a cursor
that is not one ``page`` issued, or a ``since``/``until`` that leaves the years 1-9999 in UTC, is a
``ValueError`` with a message (the HTTP routes answer 400).  Pages are
stable for a window that is already in the past; a decision committed late with a timestamp behind
a cursor that has moved past it is not revisited (use ``until`` a little in the past for exports).

Threads and processes: one connection per operation from a pool, so any number of Flask/gunicorn
threads may call one ``DecisionLog``.  PostgreSQL uses ``psycopg_pool.ConnectionPool`` (PG_POOL_MIN
to PG_POOL_MAX connections, each checked when handed out; while the server is down an operation
waits up to the connect timeout for a connection, then fails).  SQLite keeps a few idle connections
in a small lock-protected pool; its writers in one process also take a process-local lock (no
busy-wait between our own threads); across processes SQLite's busy timeout (10 s) serialises them.
Open one ``DecisionLog`` per process *after* fork (gunicorn's default without ``--preload``): the
PostgreSQL pool's threads do not survive a fork; a SQLite log used in a forked child abandons the
parent's connections (never closing them, which would disturb the parent) and opens its own.

Errors: a duplicate decision id raises :class:`DuplicateDecisionError`; a store that cannot be
reached or fails raises :class:`DecisionLogUnavailable` (both are :class:`DecisionLogError`).
``open`` does not fail when PostgreSQL is down: the schema is created on the first connection that
succeeds, and ``ping`` reports reachability for ``/readyz``; ``writable`` reports whether a
decision can be stored now (a committed write of the probe row: a read-only database or a full
disk answers False).  ``open`` raises ``ValueError`` for a
URL it does not understand, naming the scheme (never echoing the URL, which may hold a password).
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import os
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT_S = 5
SQLITE_BUSY_TIMEOUT_S = 10.0
MAX_PAGE = 10_000
POOL_IDLE_MAX = 8   # SQLite: idle connections kept
# PostgreSQL (psycopg_pool): connections kept open, and at most open at once; a thread beyond the
# maximum waits for one, up to the connect timeout.
PG_POOL_MIN = 1
PG_POOL_MAX = 16
# A decision id the service gives is a 36-character UUID; the bound keeps every cursor we issue
# (base64 of [timestamp, id], at most ~740 characters for 128 four-byte characters) under
# MAX_CURSOR_CHARS, so a longer cursor is refused before it is decoded.
MAX_DECISION_ID_CHARS = 128
MAX_CURSOR_CHARS = 1024
# Nesting of a stored case or decision: far deeper than any case the inputs admit or any decision
# the engine writes, and far below Python's recursion limit for the walks and json.dumps here.
MAX_JSON_DEPTH = 100
# /readyz writes the probe row at most this often per process (a probe is one small commit with
# an fsync); callers in between get the last answer.
PROBE_MAX_AGE_S = 1.0
MASK = "***"   # what the log keeps for a value of a `pii: true` input (or a value computed from one)

COLUMNS = ("decision_id", "created_at", "ruleset", "version", "digest", "as_of",
           "case_data", "response", "fired", "duration_ms", "caller")
_SELECT = ", ".join(COLUMNS)


class DecisionLogError(Exception):
    """The decision log could not do what was asked."""


class DuplicateDecisionError(DecisionLogError):
    """A decision id is already in the log (nothing of the batch was stored)."""


class DecisionLogUnavailable(DecisionLogError):
    """The database could not be reached or failed."""


class UnstorableEntry(ValueError):
    """A value the log cannot store (NUL, a lone surrogate, NaN, nesting too deep, not JSON);
    ``field`` names where, e.g. ``case.customer_name`` or ``decision_id``."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass
class LogEntry:
    decision_id: str
    created_at: datetime          # aware
    ruleset: str
    version: str
    digest: str
    as_of: str                    # ISO string as returned
    case: dict                    # the case as sent
    response: dict                # the full decision JSON exactly as returned to the client
    fired: list[str]
    duration_ms: float
    caller: str
    # Names whose values the log masks (MASK) wherever they appear as a key in the stored case
    # and response: the `pii: true` inputs and the facts and outputs computed from them.
    pii: frozenset = frozenset()


@dataclass(frozen=True)
class PreparedEntry:
    """A LogEntry checked, masked and serialised (:func:`prepare`): ``record`` stores it as is."""

    row: tuple


# --------------------------------------------------------------------------- helpers

def _utc(dt: datetime, name: str) -> datetime:
    """dt in UTC (a naive one is taken as UTC); ValueError naming it when that leaves years 1-9999
    (``9999-12-31T23:00:00-10:00``, ``0001-01-01T00:00:00+14:00``)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        return dt.replace(tzinfo=timezone.utc)
    try:
        return dt.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{name} {dt.isoformat()} is out of range: in UTC it falls outside "
                         "the years 1 to 9999") from None


def format_ts(dt: datetime) -> str:
    """Fixed-width UTC ISO form, e.g. ``2026-11-25T01:02:03.000004Z`` (sorts as time does)."""
    u = _utc(dt, "time")
    return (f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
            f".{u.microsecond:06d}Z")


def _parse_ts(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


def _text_problem(s: str) -> str | None:
    """Why a string cannot be stored (both stores keep UTF-8 text without NUL), or None."""
    if "\x00" in s:
        return "holds a NUL character, which the decision log cannot store"
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"holds a lone surrogate (U+{ord(s[e.start]):04X}), which is not text"
    return None


def _shown(key: str) -> str:
    """A key as it can be named in a message: a NUL or a lone surrogate written as an escape."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _find_unstorable(obj: Any, path: str, depth: int = 0) -> tuple[str, str] | None:
    """(path, problem) of the first string in obj that cannot be stored, or of nesting too deep."""
    if isinstance(obj, str):
        problem = _text_problem(obj)
        return (path, problem) if problem else None
    if depth >= MAX_JSON_DEPTH and isinstance(obj, (dict, list, tuple)):
        return path, f"is nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(obj, dict):
        for k, v in obj.items():
            sub = f"{path}.{_shown(k) if isinstance(k, str) else k}"
            if isinstance(k, str) and (problem := _text_problem(k)):
                return sub, f"its name {problem}"
            if found := _find_unstorable(v, sub, depth + 1):
                return found
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            if found := _find_unstorable(v, f"{path}[{i}]", depth + 1):
                return found
    return None


def _masked(obj: Any, names: frozenset, what: str, depth: int = 0) -> Any:
    """obj with the value of every key in ``names``, at any depth, replaced by MASK (None stays);
    UnstorableEntry for nesting deeper than MAX_JSON_DEPTH (nothing below it goes unmasked)."""
    if isinstance(obj, dict):
        if depth >= MAX_JSON_DEPTH:
            raise UnstorableEntry(what, f"is nested deeper than {MAX_JSON_DEPTH} levels")
        return {k: MASK if k in names and v is not None else _masked(v, names, what, depth + 1)
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        if depth >= MAX_JSON_DEPTH:
            raise UnstorableEntry(what, f"is nested deeper than {MAX_JSON_DEPTH} levels")
        return [_masked(v, names, what, depth + 1) for v in obj]
    return obj


_DECIMAL_TOKEN = re.compile(r'"\\u0000(\d+)\\u0000"')


def _dumps(obj: Any, what: str) -> str:
    """Compact UTF-8 JSON; a Decimal is written as the JSON number it spells, digit for digit.

    Raises UnstorableEntry naming the path (``case.name``) of what cannot be stored."""
    decimals: list[str] = []

    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            if not o.is_finite():
                raise ValueError(f"{o} is not a JSON number")
            decimals.append(str(o))
            return f"\x00{len(decimals) - 1}\x00"     # a placeholder no real string can be (see NUL)
        raise TypeError(f"{type(o).__name__} is not JSON serialisable")

    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                          default=default)
        text.encode("utf-8")   # a lone surrogate passes json.dumps but no store can hold it
    except (TypeError, ValueError, RecursionError) as e:
        found = _find_unstorable(obj, what)
        if found:
            raise UnstorableEntry(*found) from None
        raise UnstorableEntry(what, f"is not storable JSON: {e}") from None
    if "\\u0000" in text:
        found = _find_unstorable(obj, what)
        if found:
            raise UnstorableEntry(*found)
        text = _DECIMAL_TOKEN.sub(lambda m: decimals[int(m.group(1))], text)
    return text


def _loads(text: str | bytes) -> Any:
    """Numbers with a fraction or exponent come back as exact Decimals (the API's convention)."""
    return json.loads(text, parse_float=Decimal)


# the one form a cursor's timestamp has (format_ts): nothing to overflow, nothing to interpret
_CURSOR_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def _encode_cursor(created_at: str, decision_id: str) -> str:
    raw = json.dumps([created_at, decision_id], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    """(created_at, decision_id) of a cursor from :func:`_encode_cursor`; ValueError for anything else."""
    try:
        if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts, did = json.loads(raw.decode("utf-8"))
        if not (isinstance(ts, str) and _CURSOR_TS.fullmatch(ts) and isinstance(did, str)
                and 0 < len(did) <= MAX_DECISION_ID_CHARS and _text_problem(did) is None):
            raise ValueError
        _parse_ts(ts)   # a real date and time (month 13 or second 61 are refused)
        return ts, did
    except (ValueError, TypeError, RecursionError, binascii.Error):
        raise ValueError("invalid paging cursor: pass the `next` value of the previous page unchanged") \
            from None


def _text_field(name: str, v: Any) -> None:
    if not isinstance(v, str):
        raise UnstorableEntry(name, "must be a string")
    if problem := _text_problem(v):
        raise UnstorableEntry(name, problem)


def prepare(e: LogEntry) -> PreparedEntry:
    """Check an entry, mask its personal data and serialise it, without storing it.

    Masking happens here, and only here: every value keyed by a name in ``e.pii`` anywhere in the
    case and the response (case fields, ``fired[].values``, ``not_fired[].values``, outputs, ...)
    is stored as MASK.  The case is checked before masking, so a value that could not be stored is
    named even when it is personal.  Raises UnstorableEntry (a ValueError) naming the field."""
    _text_field("decision_id", e.decision_id)
    if not e.decision_id or len(e.decision_id) > MAX_DECISION_ID_CHARS:
        raise UnstorableEntry("decision_id", f"must have 1 to {MAX_DECISION_ID_CHARS} characters")
    if not isinstance(e.created_at, datetime):
        raise UnstorableEntry("created_at", "must be a datetime")
    if e.created_at.tzinfo is None or e.created_at.utcoffset() is None:
        raise UnstorableEntry("created_at", "must be timezone-aware")
    try:
        created_at = _utc(e.created_at, "created_at")
    except ValueError as err:
        raise UnstorableEntry("created_at", str(err)) from None
    fired = [str(f) for f in e.fired]
    for i, f in enumerate(fired):
        _text_field(f"fired[{i}]", f)
    try:
        duration = float(e.duration_ms)
    except (TypeError, ValueError, OverflowError):
        duration = math.nan
    if not math.isfinite(duration):
        raise UnstorableEntry("duration_ms", "must be a finite number")
    for name in ("ruleset", "version", "digest", "as_of", "caller"):
        _text_field(name, getattr(e, name))
    names = frozenset(e.pii)
    if names:
        _dumps(e.case, "case")   # names a value that cannot be stored even where it is masked below
    case = _dumps(_masked(e.case, names, "case"), "case")   # the case is small: always depth-checked
    response = _dumps(_masked(e.response, names, "response") if names else e.response, "response")
    return PreparedEntry((e.decision_id, created_at, e.ruleset, e.version,
                          e.digest, e.as_of, case, response, fired, duration, e.caller))


# --------------------------------------------------------------------------- pool

class _Pool:
    """SQLite's connections: a few idle ones behind a lock, one per operation (PostgreSQL uses
    psycopg_pool)."""

    def __init__(self, connect: Callable[[], Any], idle_max: int = POOL_IDLE_MAX):
        self._connect = connect
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._idle_max = idle_max
        self._pid = os.getpid()
        self._orphans: list[Any] = []   # a parent's connections seen after fork: never closed here
        self.closed = False

    def acquire(self) -> tuple[Any, bool]:
        """A connection and whether it is reused (may have gone stale) rather than new."""
        with self._lock:
            if self.closed:
                raise DecisionLogError("decision log is closed")
            if os.getpid() != self._pid:
                self._orphans.extend(self._idle)
                self._idle = []
                self._pid = os.getpid()
            if self._idle:
                return self._idle.pop(), True
        return self._connect(), False

    def release(self, conn: Any, healthy: bool) -> None:
        with self._lock:
            if healthy and not self.closed and os.getpid() == self._pid \
                    and len(self._idle) < self._idle_max:
                self._idle.append(conn)
                return
        _close_quietly(conn)

    def discard_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            _close_quietly(c)

    def close(self) -> None:
        with self._lock:
            self.closed = True
        self.discard_idle()


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail; nothing to do
        pass


# --------------------------------------------------------------------------- the log

class DecisionLog:
    """The decision log; see the module docstring.  Create with :meth:`open`."""

    def __init__(self, backend: "_Backend"):
        self._b = backend
        self._probe_lock = threading.Lock()
        self._probed_at = -math.inf
        self._writable: bool | None = None   # the last probe's answer; None before the first

    @classmethod
    def open(cls, url: str | None, var_dir: str | Path = "var") -> "DecisionLog":
        if url is None or url == "":
            d = Path(var_dir)
            d.mkdir(parents=True, exist_ok=True)
            return cls(_SQLite(d / "decisions.db"))
        if not isinstance(url, str):
            raise ValueError("decision log URL must be a string")
        scheme = urlsplit(url).scheme.lower() if "://" in url else ""
        if scheme == "sqlite":
            if not url.startswith("sqlite:///"):
                raise ValueError("sqlite URL must look like sqlite:///relative.db or sqlite:////abs.db")
            path = url[len("sqlite:///"):].split("?", 1)[0]
            if not path or path == ":memory:":
                raise ValueError("sqlite URL needs a file path (an in-memory database is not durable)")
            p = Path(path)
            p.parent.mkdir(parents=True, exist_ok=True)
            return cls(_SQLite(p))
        if scheme in ("postgresql", "postgres"):
            return cls(_Postgres(url))
        raise ValueError(f"unsupported decision log URL scheme {scheme or '(none)'!r}: "
                         "expected sqlite:///path or postgresql://…")

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
                or _text_problem(decision_id):
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
        if ruleset is not None and (not isinstance(ruleset, str) or _text_problem(ruleset)):
            raise ValueError("ruleset must be text (no NUL, no lone surrogate)")
        key = _decode_cursor(after) if after else None
        s = _utc(since, "since") if since is not None else None
        u = _utc(until, "until") if until is not None else None
        rows = self._b.page(ruleset, s, u, key, limit + 1)
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            return rows, _encode_cursor(last["created_at"], last["decision_id"])
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


class _Backend:
    kind: str
    target: str
    pool: Any   # _Pool (SQLite) or psycopg_pool.ConnectionPool; both have close()

    def record(self, rows: list[tuple]) -> None: ...
    def get(self, decision_id: str) -> dict | None: ...
    def page(self, ruleset, since, until, key, n) -> list[dict]: ...
    def ping(self) -> bool: ...
    def probe_write(self) -> None: ...


def _row_dict(r: tuple, created_at: str, case: Any, response: Any, fired: list) -> dict:
    return {
        "decision_id": r[0], "created_at": created_at, "ruleset": r[2], "version": r[3],
        "digest": r[4], "as_of": r[5], "case": case, "response": response, "fired": list(fired),
        "duration_ms": float(r[9]), "caller": r[10],
    }


# --------------------------------------------------------------------------- SQLite

_SQLITE_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS decisions (
        decision_id TEXT PRIMARY KEY,
        created_at  TEXT NOT NULL,
        ruleset     TEXT NOT NULL,
        version     TEXT NOT NULL,
        digest      TEXT NOT NULL,
        as_of       TEXT NOT NULL,
        case_data   TEXT NOT NULL,
        response    TEXT NOT NULL,
        fired       TEXT NOT NULL,
        duration_ms REAL NOT NULL,
        caller      TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS decisions_ruleset_created ON decisions (ruleset, created_at, decision_id)",
    "CREATE INDEX IF NOT EXISTS decisions_created ON decisions (created_at, decision_id)",
    "CREATE TABLE IF NOT EXISTS decision_log_probe (id INTEGER PRIMARY KEY, probed_at TEXT NOT NULL)",
)
# the readiness probe: one row, rewritten (a real commit, never a decision)
_PROBE_SQL = ("INSERT INTO decision_log_probe (id, probed_at) VALUES (1, {p}) "
              "ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at")


class _SQLite(_Backend):
    kind = "sqlite"

    def __init__(self, path: Path, synchronous: str = "FULL"):
        self.path = Path(path).resolve()
        self.target = f"sqlite:///{self.path}"
        self._synchronous = synchronous
        self._write_lock = threading.Lock()
        self.pool = _Pool(self._connect)
        conn, _ = self.pool.acquire()
        try:
            with self._write_lock:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for stmt in _SQLITE_SCHEMA:
                        conn.execute(stmt)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as e:
            _close_quietly(conn)
            raise DecisionLogUnavailable(f"cannot open {self.target}: {e}") from e
        self.pool.release(conn, True)

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(str(self.path), timeout=SQLITE_BUSY_TIMEOUT_S,
                                   isolation_level=None, check_same_thread=False)
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"journal_mode is {mode}, not wal")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            return conn
        except sqlite3.Error as e:
            raise DecisionLogUnavailable(f"cannot open {self.target}: {e}") from e

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn, _ = self.pool.acquire()
        ok = False
        try:
            yield conn
            ok = True
        except sqlite3.Error as e:
            raise DecisionLogUnavailable(f"decision log ({self.target}) failed: {e}") from e
        finally:
            self.pool.release(conn, ok or not conn.in_transaction)

    def record(self, rows: list[tuple]) -> None:
        params = [(r[0], format_ts(r[1]), *r[2:8], json.dumps(r[8], ensure_ascii=False), *r[9:])
                  for r in rows]
        self._write(f"INSERT INTO decisions ({_SELECT}) VALUES ({', '.join('?' * len(COLUMNS))})",
                    params)

    def probe_write(self) -> None:
        self._write(_PROBE_SQL.format(p="?"), [(format_ts(datetime.now(timezone.utc)),)])

    def _write(self, sql: str, params: list[tuple]) -> None:
        """One write transaction, committed when this returns."""
        with self._conn() as conn, self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(sql, params)
                conn.execute("COMMIT")
            except BaseException as e:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(e, sqlite3.IntegrityError):
                    raise DuplicateDecisionError(
                        "duplicate decision id in the log; nothing of the batch was stored") from e
                raise

    @staticmethod
    def _dict(r: tuple) -> dict:
        return _row_dict(r, r[1], _loads(r[6]), _loads(r[7]), json.loads(r[8]))

    def get(self, decision_id: str) -> dict | None:
        with self._conn() as conn:
            r = conn.execute(f"SELECT {_SELECT} FROM decisions WHERE decision_id = ?",
                             (decision_id,)).fetchone()
        return None if r is None else self._dict(r)

    def page(self, ruleset, since, until, key, n) -> list[dict]:
        where, params = [], []
        if ruleset is not None:
            where.append("ruleset = ?")
            params.append(ruleset)
        if since is not None:
            where.append("created_at >= ?")
            params.append(format_ts(since))
        if until is not None:
            where.append("created_at < ?")
            params.append(format_ts(until))
        if key is not None:
            where.append("(created_at, decision_id) > (?, ?)")
            params.extend((format_ts(_parse_ts(key[0])), key[1]))
        sql = (f"SELECT {_SELECT} FROM decisions"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY created_at, decision_id LIMIT ?")
        params.append(n)
        with self._conn() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [self._dict(r) for r in rows]

    def ping(self) -> bool:
        with self._conn() as conn:
            conn.execute("SELECT 1 FROM decisions LIMIT 1").fetchall()
        return True


# --------------------------------------------------------------------------- PostgreSQL

_PG_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS decisions (
        decision_id text PRIMARY KEY,
        created_at  timestamptz NOT NULL,
        ruleset     text NOT NULL,
        version     text NOT NULL,
        digest      text NOT NULL,
        as_of       text NOT NULL,
        case_data   jsonb NOT NULL,
        response    jsonb NOT NULL,
        fired       text[] NOT NULL,
        duration_ms double precision NOT NULL,
        caller      text NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS decisions_ruleset_created ON decisions (ruleset, created_at, decision_id)",
    "CREATE INDEX IF NOT EXISTS decisions_created ON decisions (created_at, decision_id)",
    "CREATE TABLE IF NOT EXISTS decision_log_probe (id integer PRIMARY KEY, probed_at timestamptz NOT NULL)",
)
_PG_SCHEMA_LOCK = 0x61667465  # advisory lock key: concurrent CREATE ... IF NOT EXISTS can still collide


class _Postgres(_Backend):
    """PostgreSQL through a psycopg_pool.ConnectionPool.

    The pool opens in the background, so ``open`` does not fail while the server is down; each
    connection is configured once (the JSON reader, and the schema on the first one that
    succeeds) and checked with an empty query when it is handed out, so connections the server
    closed (restart, failover) are replaced before use.  An operation that finds no working
    connection within the connect timeout fails with DecisionLogUnavailable (503)."""

    kind = "postgresql"

    def __init__(self, url: str):
        import psycopg  # imported here so that SQLite-only deployments need not load it
        from psycopg.conninfo import conninfo_to_dict
        from psycopg_pool import ConnectionPool

        self._psycopg = psycopg
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as e:
            raise ValueError(f"invalid postgresql URL: {e}") from None
        host = params.get("host") or "localhost"
        port = params.get("port") or "5432"
        self.target = f"postgresql://{host}:{port}/{params.get('dbname', '')}"
        extra: dict[str, Any] = {"application_name": "aftersales"} \
            if "application_name" not in params else {}
        if "connect_timeout" not in params:
            extra["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT_S
        try:
            timeout = float(params.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT_S)
        except ValueError:
            raise ValueError("invalid postgresql URL: connect_timeout is not a number") from None
        self._schema_ready = False
        self.pool = ConnectionPool(url, kwargs=extra, min_size=PG_POOL_MIN, max_size=PG_POOL_MAX,
                                   timeout=timeout if timeout > 0 else DEFAULT_CONNECT_TIMEOUT_S,
                                   configure=self._configure, check=ConnectionPool.check_connection,
                                   name="decision-log", open=False)
        self.pool.open(wait=False)
        try:
            self._read("SELECT 1", ())
        except DecisionLogUnavailable as e:
            log.warning("decision log %s not reachable yet (%s); the schema is created on the "
                        "first connection that succeeds", self.target, e.__cause__ or e)

    def _configure(self, conn) -> None:
        """Each new connection: Decimal JSON, and the schema until it exists (left idle)."""
        from psycopg.types.json import set_json_loads

        set_json_loads(_loads, conn)
        if not self._schema_ready:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_SCHEMA_LOCK,))
                for stmt in _PG_SCHEMA:
                    cur.execute(stmt)
            conn.commit()
            self._schema_ready = True

    def _run(self, fn: Callable[[Any], Any]) -> Any:
        """fn(conn) on a pooled connection; the pool rolls back what fn left open."""
        from psycopg_pool import PoolClosed, PoolTimeout

        try:
            with self.pool.connection() as conn:
                return fn(conn)
        except PoolClosed as e:
            raise DecisionLogError("decision log is closed") from e
        except PoolTimeout as e:
            raise DecisionLogUnavailable(f"cannot connect to {self.target}: {e}") from e
        except self._psycopg.errors.UniqueViolation as e:
            raise DuplicateDecisionError(
                "duplicate decision id in the log; nothing of the batch was stored") from e
        except self._psycopg.Error as e:
            raise DecisionLogUnavailable(f"decision log ({self.target}) failed: {e}") from e

    def record(self, rows: list[tuple]) -> None:
        self._write(f"INSERT INTO decisions ({_SELECT}) VALUES "
                    "(%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s::text[], %s, %s)", rows)

    def probe_write(self) -> None:
        self._write(_PROBE_SQL.format(p="%s"), [(datetime.now(timezone.utc),)])

    def _write(self, sql: str, rows: list[tuple]) -> None:
        """One write transaction, committed when this returns."""
        def work(conn):
            with conn.cursor() as cur:
                cur.executemany(sql, rows)
            conn.commit()

        self._run(work)

    def _dict(self, r: tuple) -> dict:
        return _row_dict(r, format_ts(r[1]), r[6], r[7], r[8])

    def _read(self, sql: str, params: list | tuple) -> list[tuple]:
        def work(conn):
            with conn.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall()
            conn.rollback()    # end the read transaction: no idle-in-transaction sessions
            return rows

        return self._run(work)

    def get(self, decision_id: str) -> dict | None:
        rows = self._read(f"SELECT {_SELECT} FROM decisions WHERE decision_id = %s", (decision_id,))
        return self._dict(rows[0]) if rows else None

    def page(self, ruleset, since, until, key, n) -> list[dict]:
        where, params = [], []
        if ruleset is not None:
            where.append("ruleset = %s")
            params.append(ruleset)
        if since is not None:
            where.append("created_at >= %s")
            params.append(since)
        if until is not None:
            where.append("created_at < %s")
            params.append(until)
        if key is not None:
            where.append("(created_at, decision_id) > (%s, %s)")
            params.extend((_parse_ts(key[0]), key[1]))
        sql = (f"SELECT {_SELECT} FROM decisions"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY created_at, decision_id LIMIT %s")
        params.append(n)
        return [self._dict(r) for r in self._read(sql, params)]

    def ping(self) -> bool:
        self._read("SELECT 1", ())
        return True

