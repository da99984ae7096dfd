"""The database the service keeps: where it is, its tables, and its migrations.

One database holds the decision log and the rule releases: SQLite (the embedded default,
``var/decisions.db``) or PostgreSQL (``postgresql://…``, production). :class:`Database` says which
from the URL; :func:`migrate` brings its schema to the newest revision with Alembic
(db/migrations), under a lock so that every worker of every host may call it at start-up, and
recognises a database made before migrations existed (the decision log's tables without an
``alembic_version``) as revision 0001, so an installation upgrades in place with its data.
"""
from __future__ import annotations

import fcntl
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, pool, text

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"
"""The revision of a database made before migrations: the decision log's two tables, no more."""
SQLITE_BUSY_TIMEOUT_S = 10.0
PG_CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class Database:
    """Where the database is: a SQLite file or a PostgreSQL URL (never printed: it may hold a password)."""

    kind: str  # "sqlite" | "postgresql"
    sqlite_path: Path | None = None
    pg_url: str | None = None

    @classmethod
    def from_url(cls, url: str | None, var_dir: str | Path = "var") -> "Database":
        """None or "" is SQLite in the var dir; ``sqlite:///path`` or ``postgresql://…``; anything else
        is a ValueError naming the scheme (never echoing the URL)."""
        if url is None or url == "":
            d = Path(var_dir)
            d.mkdir(parents=True, exist_ok=True)
            return cls("sqlite", sqlite_path=(d / "decisions.db").resolve())
        if not isinstance(url, str):
            raise ValueError("database URL must be a string")
        scheme = urlsplit(url).scheme.lower() if "://" in url else ""
        if scheme == "sqlite":
            if not url.startswith("sqlite:///"):
                raise ValueError("sqlite URL must look like sqlite:///relative.db or sqlite:////abs.db")
            path = url[len("sqlite:///"):].split("?", 1)[0]
            if not path or path == ":memory:":
                raise ValueError("sqlite URL needs a file path (an in-memory database is not durable)")
            p = Path(path)
            p.parent.mkdir(parents=True, exist_ok=True)
            return cls("sqlite", sqlite_path=p.resolve())
        if scheme in ("postgresql", "postgres"):
            return cls("postgresql", pg_url=url)
        raise ValueError(f"unsupported database URL scheme {scheme or '(none)'!r}: "
                         "expected sqlite:///path or postgresql://…")

    @property
    def target(self) -> str:
        """Where, without any password (for logs and messages)."""
        if self.kind == "sqlite":
            return f"sqlite:///{self.sqlite_path}"
        from psycopg.conninfo import conninfo_to_dict
        params = conninfo_to_dict(self.pg_url)
        return f"postgresql://{params.get('host') or 'localhost'}:{params.get('port') or '5432'}/{params.get('dbname', '')}"

    def engine(self) -> Engine:
        """A SQLAlchemy engine on this database (one per process: create it after a fork)."""
        if self.kind == "sqlite":
            engine = create_engine(f"sqlite:///{self.sqlite_path}",
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
                                   poolclass=pool.NullPool)

            @event.listens_for(engine, "connect")
            def _wal(conn, _record):
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            return engine
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        url = self.pg_url
        extra = {} if "connect_timeout" in conninfo_to_dict(url) else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
        return create_engine("postgresql+psycopg://", pool_pre_ping=True, pool_size=2, max_overflow=6,
                             creator=lambda: psycopg.connect(url, application_name="aftersales", **extra))


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


LOCKS = {"migrate": 0x61667466, "publish": 0x61667467}
"""Locks across every process of every host on the database: PostgreSQL advisory lock keys; on SQLite
a file lock beside the database file."""


@contextmanager
def lock(db: Database, engine: Engine, name: str):
    """Hold the lock `name` (LOCKS) while the block runs: on PostgreSQL the session lock of a
    connection kept open meanwhile; on SQLite a file lock taken before any connection is opened (the
    first connection turns the file to WAL, which concurrent first connections would find locked)."""
    if db.kind == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCKS[name]})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCKS[name]})
        return
    with open(db.sqlite_path.with_name(f"{db.sqlite_path.name}.{name}.lock"), "ab") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes
        yield


def revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(db: Database, engine: Engine | None = None, to: str = "head") -> None:
    """Bring the schema to `to` (default: the newest), safe to call from many processes at once."""
    own = engine is None
    engine = engine or db.engine()
    try:
        with lock(db, engine, "migrate"):
            with engine.begin() as conn:
                tables = set(inspect(conn).get_table_names())
                if "alembic_version" not in tables and "decisions" in tables:
                    log.info("database %s predates migrations: taken as revision %s", db.target, BASELINE)
                    cfg = _config()
                    cfg.attributes["connection"] = conn
                    command.stamp(cfg, BASELINE)
            with engine.begin() as conn:
                cfg = _config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, to)
    finally:
        if own:
            engine.dispose()
