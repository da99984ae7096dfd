"""The decision log on SQLite (the embedded default, zero set-up).

``DecisionLog.open(None)`` opens ``var/decisions.db`` (the folder is created on demand);
``sqlite:///relative/path.db`` and ``sqlite:////abs/path.db`` (SQLAlchemy's spelling) pick another
file.  The database runs in WAL mode at the durability of ``AFTERSALES_DURABILITY`` (api.settings;
``DURABILITY`` below): ``power-loss`` (the default) is ``synchronous=FULL``: every commit fsyncs
the WAL, so a decision whose ``record`` returned survives a crash of the process *and* of the
machine (power loss).  ``process-crash`` is ``synchronous=NORMAL``: the commit is in the WAL file
(the operating system's page cache) when ``record`` returns, so it survives ``kill -9`` of the
server, but the last commits before a power cut or kernel crash may be lost (the database stays
consistent).  Measured cost under load: bench/RESULTS.md (issue 14).

What a commit costs, measured on the project's 2-core build machine (virtio disk with a write-back
cache; one decision per ``record`` call, i.e. one commit; median of 300, three runs):

    SQLite WAL synchronous=FULL     0.31-0.39 ms  (the default here: one fsync of the WAL per commit)
    SQLite WAL synchronous=NORMAL   0.03-0.07 ms  (for comparison: survives a process crash only)

So durability costs SQLite about 0.3 ms per commit here; on a disk whose flush really reaches the
platter or a cloud volume it is the device's flush latency (typically 1-10 ms).  A batch is one
commit: 100 decisions in one ``record`` took about 3 ms.

JSON is kept as TEXT and ``created_at`` as fixed-width UTC ISO text, which sorts as time does.
Connections: a few idle ones in a small lock-protected pool, one per operation; writers in one
process also take a process-local lock (no busy-wait between our own threads); across processes
SQLite's busy timeout (10 s) serialises them.  A log used in a forked child abandons the parent's
connections (never closing them, which would disturb the parent) and opens its own.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from db import Database, migrate

from .errors import DecisionLogError, DecisionLogUnavailable, DuplicateDecisionError
from .records import format_ts, loads, parse_ts
from .store import COLUMNS, PROBE_SQL, SELECT, Store, row_dict

SQLITE_BUSY_TIMEOUT_S = 10.0
# AFTERSALES_DURABILITY → SQLite's `synchronous` in WAL mode: what a committed decision survives
DURABILITY = {"power-loss": "FULL", "process-crash": "NORMAL"}
DEFAULT_DURABILITY = "power-loss"
POOL_IDLE_MAX = 8   # SQLite: idle connections kept


# -- the connection pool

class SQLitePool:
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


class SQLiteStore(Store):
    kind = "sqlite"

    def __init__(self, path: Path, durability: str = DEFAULT_DURABILITY):
        if durability not in DURABILITY:
            raise ValueError(f"durability must be {' or '.join(DURABILITY)}, not {durability!r}")
        self.path = Path(path).resolve()
        self.target = f"sqlite:///{self.path}"
        self.durability = durability
        self._synchronous = DURABILITY[durability]
        self._write_lock = threading.Lock()
        self.pool = SQLitePool(self._connect)
        try:
            migrate(Database("sqlite", sqlite_path=self.path))
        except Exception as e:  # noqa: BLE001 - sqlite3 or SQLAlchemy: the file cannot be used
            raise DecisionLogUnavailable(f"cannot open {self.target}: {e}") from e

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
        self._write(f"INSERT INTO decisions ({SELECT}) VALUES ({', '.join('?' * len(COLUMNS))})",
                    params)

    def probe_write(self) -> None:
        self._write(PROBE_SQL.format(p="?"), [(format_ts(datetime.now(timezone.utc)),)])

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
        return row_dict(r, r[1], loads(r[6]), loads(r[7]), json.loads(r[8]))

    def get(self, decision_id: str) -> dict | None:
        with self._conn() as conn:
            r = conn.execute(f"SELECT {SELECT} FROM decisions WHERE decision_id = ?",
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
            params.extend((format_ts(parse_ts(key[0])), key[1]))
        sql = (f"SELECT {SELECT} FROM decisions"
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


