"""What a store of the decision log does (SQLite, PostgreSQL), and what both share: the columns,
the readiness probe's statement, and a row as the dict callers get.

Schema (made and upgraded by the migrations in db/migrations, run by each store on open; safe when
several worker processes open at once)::

    decisions(decision_id PK, created_at, ruleset, version, digest, as_of,
              case_data, response, fired, duration_ms, caller, release)
    index (ruleset, created_at, decision_id), index (created_at, decision_id)
    decision_log_probe(id PK, probed_at)    -- one row, rewritten by ``writable`` (/readyz)

Rows come back as plain dicts with ``created_at`` in the fixed-width UTC ISO form
(``2026-11-25T01:02:03.000004Z``) on both stores, so the HTTP layer can serialise them directly.
"""
from __future__ import annotations

from typing import Any

COLUMNS = ("decision_id", "created_at", "ruleset", "version", "digest", "as_of",
           "case_data", "response", "fired", "duration_ms", "caller", "release")
SELECT = ", ".join(COLUMNS)
# the readiness probe: one row, rewritten (a real commit, never a decision)
PROBE_SQL = ("INSERT INTO decision_log_probe (id, probed_at) VALUES (1, {p}) "
             "ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at")


class Store:
    """A store of the decision log: rows as `records.prepare` made them, committed by `record`."""

    kind: str
    target: str
    pool: Any   # SQLitePool (SQLite) or psycopg_pool.ConnectionPool; both have close()

    def record(self, rows: list[tuple]) -> None: ...
    def get(self, decision_id: str) -> dict | None: ...
    def page(self, ruleset, since, until, key, n) -> list[dict]: ...
    def ping(self) -> bool: ...
    def probe_write(self) -> None: ...


def row_dict(r: tuple, created_at: str, case: Any, response: Any, fired: list) -> dict:
    return {
        "decision_id": r[0], "created_at": created_at, "ruleset": r[2], "version": r[3],
        "digest": r[4], "as_of": r[5], "case": case, "response": response, "fired": list(fired),
        "duration_ms": float(r[9]), "caller": r[10], "release": r[11],
    }

