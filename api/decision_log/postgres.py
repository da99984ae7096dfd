"""The decision log on PostgreSQL (production).

``postgresql://user:password@host:port/db?...`` (``postgres://`` too), typically from
``AFTERSALES_DATABASE_URL``.  Server defaults (``synchronous_commit=on``) make a commit durable
when it returns (0.50-0.54 ms per commit on loopback, PostgreSQL 15, on the build machine).  Any
libpq parameter may ride on the URL, e.g. ``?connect_timeout=3`` or
``?options=-csearch_path%3Dmyschema`` to keep the table in a schema.  Without ``connect_timeout``
in the URL, connecting gives up after 5 s.  JSON is kept as JSONB, ``created_at`` as TIMESTAMPTZ,
``fired`` as ``text[]``.

Connections come from ``psycopg_pool.ConnectionPool`` (PG_POOL_MIN to PG_POOL_MAX connections, each
checked when handed out; while the server is down an operation waits up to the connect timeout for
a connection, then fails).  The pool's threads do not survive a fork: open the log after it.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Any, Callable

from db import Database, migrate

from .errors import DecisionLogError, DecisionLogUnavailable, DuplicateDecisionError
from .records import format_ts, loads, parse_ts
from .store import PROBE_SQL, SELECT, Store, row_dict

log = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT_S = 5
# PostgreSQL (psycopg_pool): connections kept open, and at most open at once; a thread beyond the
# maximum waits for one, up to the connect timeout.
PG_POOL_MIN = 1
PG_POOL_MAX = 16


class PostgresStore(Store):
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
        self._url = url
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
        self._schema_lock = threading.Lock()
        self._schema_ready = False
        self.pool = ConnectionPool(url, kwargs=extra, min_size=PG_POOL_MIN, max_size=PG_POOL_MAX,
                                   timeout=timeout if timeout > 0 else DEFAULT_CONNECT_TIMEOUT_S,
                                   configure=self._configure, check=ConnectionPool.check_connection,
                                   name="decision-log", open=False)
        self.pool.open(wait=False)
        try:
            self._ensure_schema()
        except DecisionLogUnavailable as e:
            log.warning("decision log %s not reachable yet (%s); the schema is created on the "
                        "first connection that succeeds", self.target, e.__cause__ or e)

    @staticmethod
    def _configure(conn) -> None:
        """Each new connection reads JSON numbers as Decimal."""
        from psycopg.types.json import set_json_loads

        set_json_loads(loads, conn)

    def _ensure_schema(self) -> None:
        """Migrate the schema (db.migrate) once per process, before the first operation that finds
        the server up."""
        with self._schema_lock:
            if self._schema_ready:
                return
            try:
                migrate(Database("postgresql", pg_url=self._url))
            except Exception as e:  # noqa: BLE001 - SQLAlchemy or psycopg: the server is not usable yet
                raise DecisionLogUnavailable(f"cannot migrate {self.target}: {type(e).__name__}") from e
            self._schema_ready = True

    def _run(self, fn: Callable[[Any], Any]) -> Any:
        """fn(conn) on a pooled connection; the pool rolls back what fn left open."""
        from psycopg_pool import PoolClosed, PoolTimeout

        if not self._schema_ready:
            self._ensure_schema()
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
        self._write(f"INSERT INTO decisions ({SELECT}) VALUES "
                    "(%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s::text[], %s, %s, %s)", rows)

    def probe_write(self) -> None:
        self._write(PROBE_SQL.format(p="%s"), [(datetime.now(timezone.utc),)])

    def _write(self, sql: str, rows: list[tuple]) -> None:
        """One write transaction, committed when this returns."""
        def work(conn):
            with conn.cursor() as cur:
                cur.executemany(sql, rows)
            conn.commit()

        self._run(work)

    def _dict(self, r: tuple) -> dict:
        return row_dict(r, format_ts(r[1]), r[6], r[7], r[8])

    def _read(self, sql: str, params: list | tuple) -> list[tuple]:
        def work(conn):
            with conn.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall()
            conn.rollback()    # end the read transaction: no idle-in-transaction sessions
            return rows

        return self._run(work)

    def get(self, decision_id: str) -> dict | None:
        rows = self._read(f"SELECT {SELECT} FROM decisions WHERE decision_id = %s", (decision_id,))
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
            params.extend((parse_ts(key[0]), key[1]))
        sql = (f"SELECT {SELECT} FROM decisions"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY created_at, decision_id LIMIT %s")
        params.append(n)
        return [self._dict(r) for r in self._read(sql, params)]

    def ping(self) -> bool:
        self._read("SELECT 1", ())
        return True

