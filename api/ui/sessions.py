"""Server-side sign-ins of the web pages, shared by every gunicorn worker through a small SQLite file.

The session cookie carries only a random session id (and the form CSRF token), nothing derived from
the API token. This table maps the SHA-256 of that id to a keyed fingerprint of the token it was
opened with (HMAC with the app's secret key) and an expiry. Logging out deletes the row, so the
cookie stops working in every worker at once; a token removed or changed in the settings no longer
matches its fingerprint, so its sign-ins end too. The file lives in the var dir, one per host: with
several hosts behind one load balancer, keep a browser on one host (sticky sessions).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

MAX_AGE_S = 12 * 3600
"""A sign-in lasts one working day at most: a forgotten browser does not stay signed in for ever."""
MAX_PER_TOKEN = 100
"""Sign-ins kept per token (the oldest go first): the table cannot grow without bound, and only the
holder of a token can push out that token's own sign-ins."""
KEY_CHARS = 64
"""A cookie key is 32 random bytes written in hex; a shorter (say, truncated) key file is refused."""
BUSY_TIMEOUT_S = 5.0
"""How long a worker waits for another one's write (a sign-in or sign-out) before giving up."""


class SessionsUnavailable(Exception):
    """The sign-in table cannot be read or written (disk full, read-only var dir)."""


def shared_key(var_dir: Path) -> str:
    """The key that signs the cookies, the same in every worker: read from var/ui-secret-key, created once.

    Created under a temporary name and linked into place, so a worker racing another one never reads
    a half-written key."""
    path = var_dir / "ui-secret-key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        tmp = var_dir / f".ui-secret-key.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(KEY_CHARS // 2))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another worker was first: use its key
        finally:
            tmp.unlink()
    with open(path, encoding="ascii", errors="replace") as f:
        key = f.read(KEY_CHARS + 2).strip()  # never more than a key's length, whatever lies there
    if len(key) < KEY_CHARS:
        raise SessionsUnavailable(f"{path}: not a {KEY_CHARS}-character key; delete it to make a new one")
    return key


def fingerprint(key: str, token: str) -> str:
    """The keyed fingerprint of an API token kept server-side (never in the cookie)."""
    return hmac.new(key.encode(), token.encode(), hashlib.sha256).hexdigest()


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class SessionStore:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS ui_session (id_hash TEXT PRIMARY KEY, token_fp TEXT NOT NULL,"
                       " expires REAL NOT NULL)")

    @contextmanager
    def _db(self):
        try:
            db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
            try:
                yield db
            finally:
                db.close()
        except sqlite3.Error as e:
            raise SessionsUnavailable(f"{self.path}: {e}") from e

    def open(self, token_fp: str) -> str:
        """A new sign-in for the token with this fingerprint; returns its session id (for the cookie)."""
        sid = secrets.token_urlsafe(32)
        now = time.time()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM ui_session WHERE expires <= ?", (now,))
            db.execute("DELETE FROM ui_session WHERE token_fp = ? AND id_hash NOT IN (SELECT id_hash FROM ui_session"
                       " WHERE token_fp = ? ORDER BY expires DESC LIMIT ?)", (token_fp, token_fp, MAX_PER_TOKEN - 1))
            db.execute("INSERT INTO ui_session VALUES (?, ?, ?)", (_hash(sid), token_fp, now + MAX_AGE_S))
            db.execute("COMMIT")
        return sid

    def token_fp(self, sid: str) -> str | None:
        """The fingerprint of the token behind a live session id; None when signed out or expired."""
        with self._db() as db:
            row = db.execute("SELECT token_fp FROM ui_session WHERE id_hash = ? AND expires > ?",
                             (_hash(sid), time.time())).fetchone()
        return row[0] if row else None

    def revoke(self, sid: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM ui_session WHERE id_hash = ?", (_hash(sid),))
