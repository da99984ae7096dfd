"""Upgrading in place: a database made before migrations, with decisions in it, opened by today's app.

The schema before migrations is frozen here, copied from the decision log's DDL at git revision
9e57ef9 (api/decision_log/sqlite.py _SQLITE_SCHEMA, api/decision_log/postgres.py _PG_SCHEMA): it is
history and must not follow later changes. The rows in it are real decisions, made by today's app
on a scratch database and copied in the format that version stored (no `release` column, no
"release" in the response). On SQLite and on PostgreSQL (the `db_url` fixture of tests/conftest.py).
"""
from __future__ import annotations

import json
import multiprocessing
import sqlite3
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

import db
from api import create_app
from api.settings import Settings
from db.tables import metadata
from tests.conftest import ROOT, RULES

AS_OF = "2026-11-25T10:00:00+08:00"
OLD_COLUMNS = ("decision_id, created_at, ruleset, version, digest, as_of, case_data, response, fired, "
               "duration_ms, caller")
MIGRATE_TIMEOUT_S = 120  # a child process that migrates: seconds before the test gives up on it

# -- the schema before migrations (git show 9e57ef9:api/decision_log/{sqlite,postgres}.py), frozen
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


def settings(tmp_path: Path, url: str) -> Settings:
    return Settings(rules_dir=RULES, database_url=url, var_dir=tmp_path / "var", reload_interval=0,
                    backend="python")


def close(app) -> None:
    svc = app.extensions["aftersales"]
    svc.log.close()
    svc.governance.store.close()


@pytest.fixture(scope="module")
def old_rows(tmp_path_factory) -> list[tuple]:
    """Real decisions (every example case), as rows of the schema before migrations (SQLite's text form)."""
    tmp = tmp_path_factory.mktemp("scratch")
    app = create_app(settings(tmp, f"sqlite:///{tmp / 'scratch.db'}"), watch=False)
    client = app.test_client()
    for path in sorted((ROOT / "examples").glob("*/*.json")):
        if path.name == "request.json":
            continue
        r = client.post(f"/v1/decisions/{path.parent.name}",
                        json={"case": json.loads(path.read_text(encoding="utf-8")), "as_of": AS_OF})
        assert r.status_code == 200, (path, r.get_json())
    release = app.extensions["aftersales"].source.book.release
    close(app)
    with sqlite3.connect(tmp / "scratch.db") as conn:
        rows = conn.execute(f"SELECT {OLD_COLUMNS} FROM decisions ORDER BY created_at").fetchall()
    old = []
    for row in rows:
        response = json.loads(row[7], parse_float=Decimal)  # a fraction would be a Decimal: dumps refuses it
        assert response.pop("release") == release      # the version before releases did not write it
        old.append((*row[:7], json.dumps(response, ensure_ascii=False, separators=(",", ":")), *row[8:]))
    assert len(old) >= 15 and {r[2] for r in old} == {"warranty", "scrap_pricing", "sla", "depreciation"}
    return old


def make_old_database(url: str, rows: list[tuple]) -> None:
    """The decision log as the version before migrations made and filled it."""
    if url.startswith("sqlite:"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as conn:
            for stmt in _SQLITE_SCHEMA:
                conn.execute(stmt)
            conn.executemany(f"INSERT INTO decisions ({OLD_COLUMNS}) VALUES ({', '.join('?' * 11)})", rows)
        return
    import psycopg

    with psycopg.connect(url) as conn:
        for stmt in _PG_SCHEMA:
            conn.execute(stmt)
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO decisions ({OLD_COLUMNS}) VALUES "
                            "(%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s::text[], %s, %s)",
                            [(r[0], datetime.fromisoformat(r[1]), *r[2:6], r[6], r[7],
                              json.loads(r[8]), r[9], r[10]) for r in rows])


def schema(engine: sa.Engine) -> dict:
    """Every table (alembic's own included) → its columns with nullability, indexes and primary key."""
    insp = sa.inspect(engine)
    return {t: {"columns": [(c["name"], c["nullable"]) for c in insp.get_columns(t)],
                "indexes": sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(t)),
                "pk": insp.get_pk_constraint(t)["constrained_columns"]}
            for t in sorted(insp.get_table_names())}


def stored(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT decision_id, created_at, response, release FROM decisions ORDER BY decision_id"))]


def test_a_database_made_before_migrations_upgrades_and_serves_its_decisions_identically(tmp_path, db_url, old_rows):
    make_old_database(db_url, old_rows)
    database = db.Database.from_url(db_url)
    engine = database.engine()
    try:
        assert db.revision(engine) is None and "release" not in {c["name"] for c in
                                                                   sa.inspect(engine).get_columns("decisions")}
        app = create_app(settings(tmp_path, db_url), watch=False)  # opening it migrates it
        try:
            client = app.test_client()
            for row in old_rows:
                r = client.get(f"/v1/decisions/{row[0]}")
                assert r.status_code == 200
                assert json.loads(r.data, parse_float=Decimal) == json.loads(row[7], parse_float=Decimal)
                if database.kind == "sqlite":  # key order kept (JSONB reorders): byte for byte
                    assert r.data.decode("utf-8") == row[7]
            assert db.revision(engine) == db.head()
            with engine.connect() as conn:
                releases = conn.execute(sa.text("SELECT decision_id, release FROM decisions")).all()
            assert {d: rel for d, rel in releases} == {row[0]: None for row in old_rows}

            r = client.post("/v1/decisions/warranty", json={
                "case": json.loads((ROOT / "examples/warranty/free_repair.json").read_text(encoding="utf-8")),
                "as_of": AS_OF})
            assert r.status_code == 200
            new = r.get_json()
            active = app.extensions["aftersales"].governance.active()
            assert active is not None and new["release"] == active
            assert client.get(f"/v1/decisions/{new['decision_id']}").get_json() == new
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT release FROM decisions WHERE decision_id = :d"),
                                    {"d": new["decision_id"]}).scalar() == active
        finally:
            close(app)
    finally:
        engine.dispose()


def test_migrating_twice_changes_nothing(db_url, old_rows):
    make_old_database(db_url, old_rows[:3])
    database = db.Database.from_url(db_url)
    engine = database.engine()
    try:
        db.migrate(database)
        before = schema(engine), stored(engine), db.revision(engine)
        db.migrate(database)
        assert (schema(engine), stored(engine), db.revision(engine)) == before
        assert before[2] == db.head() and len(before[1]) == 3
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()


def _migrate_in_child(url: str, barrier) -> None:
    barrier.wait(timeout=MIGRATE_TIMEOUT_S)  # both start together: the migration lock is what orders them
    db.migrate(db.Database.from_url(url))


def test_two_processes_migrating_at_once_both_succeed(db_url, old_rows):
    make_old_database(db_url, old_rows[:3])
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters, as two workers or two hosts are
    barrier = ctx.Barrier(2)
    children = [ctx.Process(target=_migrate_in_child, args=(db_url, barrier)) for _ in range(2)]
    for c in children:
        c.start()
    for c in children:
        c.join(MIGRATE_TIMEOUT_S)
    try:
        assert [c.exitcode for c in children] == [0, 0]
    finally:
        for c in children:
            if c.is_alive():
                c.kill()
    engine = db.Database.from_url(db_url).engine()
    try:
        assert db.revision(engine) == db.head()
        assert [(r[0], r[3]) for r in stored(engine)] == sorted((r[0], None) for r in old_rows[:3])
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()


def test_db_tables_agree_with_the_migrated_schema(db_url):
    database = db.Database.from_url(db_url)
    engine = database.engine()
    try:
        db.migrate(database)
        migrated = schema(engine)
        migrated.pop("alembic_version")  # Alembic's bookkeeping, not the service's
        declared = {t.name: [(c.name, c.nullable) for c in t.columns] for t in metadata.sorted_tables}
        assert sorted(declared) == sorted(migrated)
        for name, columns in declared.items():
            assert sorted(columns) == sorted(migrated[name]["columns"]), name
            assert [c.name for c in metadata.tables[name].primary_key] == migrated[name]["pk"], name
    finally:
        engine.dispose()
