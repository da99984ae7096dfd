"""Decision log against real databases: SQLite in a temporary folder and PostgreSQL.

PostgreSQL comes from AFTERSALES_TEST_DATABASE_URL, which `make test` sets by running pytest under
tests/pg_harness.sh (a throw-away server on loopback).  Bare `pytest` without that variable skips
the PostgreSQL cases, unless AFTERSALES_REQUIRE_POSTGRES is set (the harness sets it), in which
case they fail.  Every PostgreSQL test gets a fresh schema of its own, dropped afterwards.
"""
from __future__ import annotations

import re
import secrets
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from api.decision_log import (
    DecisionLog,
    DecisionLogUnavailable,
    DuplicateDecisionError,
    LogEntry,
)

from api.settings import Settings, SettingsError
from tests.conftest import PG_URL, ROOT
from tests.ports import loopback_port

T0 = datetime(2026, 11, 25, 9, 30, tzinfo=timezone(timedelta(hours=8)))
CST = timezone(timedelta(hours=8))


@pytest.fixture
def log(db_url):
    lg = DecisionLog.open(db_url)
    yield lg
    lg.close()


def entry(i: int | str, *, ruleset="warranty", at: datetime = T0, **kw) -> LogEntry:
    did = i if isinstance(i, str) else f"d-{i:05d}"
    base = dict(
        decision_id=did, created_at=at, ruleset=ruleset, version="2026.11", digest="sha256:" + "ab" * 32,
        as_of="2026-11-25", case={"serial": "SN-1", "customer": "***"},
        response={"decision_id": did, "outcome": "free_repair", "amount": "0.00"},
        fired=["r1"], duration_ms=0.5, caller="test")
    base.update(kw)
    return LogEntry(**base)


# --------------------------------------------------------------------------- round trip

def test_round_trip_chinese_and_money(log):
    case = {"product": "洗衣机", "customer": {"name": "张*", "phone": "138****0000"},
            "purchase_price": "3999.00", "defects": ["不制冷", "噪音大"], "days": 12,
            "mileage_km": Decimal("12345.60"), "ratio": Decimal("1E-7")}
    response = {
        "decision_id": "dec-中文-1", "ruleset": "warranty", "outcome": "换货",
        "amount": "1234567890123.45", "refund": "0.10", "tax": "-0.01", "flags": [True, False, None],
        "explain": [{"rule": "三包.退货", "why": "7 日内性能故障"}], "score": Decimal("1.50"), "count": 10 ** 18,
        "nested": {"empty": {}, "list": []},
    }
    e = entry("dec-中文-1", at=T0, case=case, response=response, fired=["三包.退货", "r2"],
              duration_ms=3.25, caller="客服系统", release="r12")
    log.record([e])
    got = log.get("dec-中文-1")
    assert got == {
        "decision_id": "dec-中文-1", "created_at": "2026-11-25T01:30:00.000000Z",
        "ruleset": "warranty", "version": "2026.11", "digest": "sha256:" + "ab" * 32,
        "as_of": "2026-11-25", "case": case, "response": response,
        "fired": ["三包.退货", "r2"], "duration_ms": 3.25, "caller": "客服系统", "release": "r12",
    }
    # money stays a string, exactly as written
    assert got["response"]["amount"] == "1234567890123.45"
    assert isinstance(got["response"]["refund"], str) and got["response"]["refund"] == "0.10"
    assert isinstance(got["response"]["count"], int)
    # exact numbers stay exact Decimals, scale included (the API reads request JSON that way)
    assert str(got["response"]["score"]) == "1.50" and str(got["case"]["mileage_km"]) == "12345.60"
    assert got["case"]["ratio"] == Decimal("1E-7")
    assert log.get("no-such-decision") is None


def test_created_at_microseconds_and_timezones(log):
    at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=CST)
    log.record([entry(1, at=at)])
    assert log.get("d-00001")["created_at"] == "2026-01-01T19:04:05.000006Z"


def test_record_refuses_what_a_store_cannot_hold(log):
    with pytest.raises(ValueError, match="aware"):
        log.record([entry(1, at=datetime(2026, 1, 1))])
    with pytest.raises(ValueError, match="NUL"):
        log.record([entry(2, case={"x": "a\x00b"})])
    with pytest.raises(ValueError, match="not storable"):
        log.record([entry(3, response={"x": float("nan")})])
    log.record([])  # nothing to do
    assert log.page() == ([], None)


# --------------------------------------------------------------------------- atomicity

def test_batch_is_atomic(log):
    log.record([entry(1)])
    batch = [entry(10), entry(11), entry(1), entry(12)]   # d-00001 already stored
    with pytest.raises(DuplicateDecisionError):
        log.record(batch)
    for i in (10, 11, 12):
        assert log.get(f"d-{i:05d}") is None
    with pytest.raises(DuplicateDecisionError):            # duplicate inside one batch
        log.record([entry(20), entry(20)])
    assert log.get("d-00020") is None
    rows, cursor = log.page()
    assert [r["decision_id"] for r in rows] == ["d-00001"] and cursor is None
    log.record([entry(10), entry(11)])                     # the log still works afterwards
    assert log.get("d-00011") is not None


# --------------------------------------------------------------------------- paging

def test_paging_by_ruleset_since_until(log):
    entries = []
    for i in range(230):
        # every third entry shares a timestamp with its neighbour: ties break on decision_id
        at = T0 + timedelta(seconds=i // 3 * 10, microseconds=i % 2)
        entries.append(entry(f"x{(i * 7919) % 1000:04d}-{i}", ruleset=("warranty", "scrap")[i % 4 == 0],
                             at=at))
    log.record(entries[:100])
    log.record(entries[100:])

    def key(e):
        return (e.created_at, e.decision_id)

    def all_pages(**kw):
        out, cursor, pages = [], None, 0
        while True:
            rows, cursor = log.page(after=cursor, **kw)
            pages += 1
            assert len(rows) <= kw.get("limit", 100)
            out.extend(r["decision_id"] for r in rows)
            if cursor is None:
                return out, pages
            assert rows, "a cursor came with an empty page"

    expected = [e.decision_id for e in sorted(entries, key=key)]
    got, pages = all_pages(limit=7)
    assert got == expected and pages == 33

    since, until = T0 + timedelta(seconds=200), T0 + timedelta(seconds=500)
    exp = [e.decision_id for e in sorted(entries, key=key)
           if e.ruleset == "warranty" and since <= e.created_at < until]
    got, _ = all_pages(ruleset="warranty", since=since, until=until, limit=9)
    assert got == exp and len(exp) > 9 and len(set(got)) == len(got)

    # naive datetimes are UTC; an exact page boundary ends with cursor None on the next call
    naive_since = since.astimezone(timezone.utc).replace(tzinfo=None)
    got, _ = all_pages(ruleset="warranty", since=naive_since, until=until, limit=len(exp))
    assert got == exp
    exp_scrap = [e.decision_id for e in sorted(entries, key=key) if e.ruleset == "scrap"]
    assert [r["decision_id"] for r in log.iter_entries(ruleset="scrap", batch=5)] == exp_scrap
    assert log.page(ruleset="nothing") == ([], None)

    rows, cursor = log.page(limit=3)
    assert cursor and len(rows) == 3
    with pytest.raises(ValueError, match="cursor"):
        log.page(after="not a cursor")
    with pytest.raises(ValueError, match="limit"):
        log.page(limit=0)


# --------------------------------------------------------------------------- threads

def test_concurrent_recording_loses_nothing(log):
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(t: int):
        try:
            start.wait()
            for j in range(25):
                if j % 5 == 4:
                    log.record([entry(f"t{t}-{j}-a"), entry(f"t{t}-{j}-b")])
                else:
                    log.record([entry(f"t{t}-{j}", at=T0 + timedelta(milliseconds=j))])
                assert log.get(f"t{t}-{j}" if j % 5 != 4 else f"t{t}-{j}-b") is not None
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors, errors
    ids = [r["decision_id"] for r in log.iter_entries(batch=64)]
    assert len(ids) == len(set(ids)) == 8 * (20 + 5 * 2)


# --------------------------------------------------------------------------- durability

CHILD = r"""
import sys, time
from datetime import datetime, timezone
from api.decision_log import DecisionLog, LogEntry
log = DecisionLog.open(sys.argv[1], durability=sys.argv[3])
did = sys.argv[2]
log.record([LogEntry(did, datetime.now(timezone.utc), "warranty", "1", "d", "2026-11-25",
                     {"k": "值"}, {"decision_id": did, "amount": "12.30"}, ["r1"], 1.0, "child")])
print(did, flush=True)
time.sleep(60)
"""


def test_committed_entry_survives_kill_9(db_url):
    _survives_kill_9(db_url, "power-loss")


def test_committed_entry_survives_kill_9_without_fsync(tmp_path):
    """AFTERSALES_DURABILITY=process-crash (no fsync per commit) still keeps what a killed server committed."""
    _survives_kill_9(f"sqlite:///{tmp_path / 'decisions.db'}", "process-crash")


def _survives_kill_9(db_url, durability):
    did = "durable-" + secrets.token_hex(4)
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url, did, durability], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline().strip()
        child.kill()   # SIGKILL, right after record() returned
        child.wait(timeout=10)
        assert line == did, child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    with DecisionLog.open(db_url) as lg:
        got = lg.get(did)
    assert got is not None and got["response"] == {"decision_id": did, "amount": "12.30"}
    assert got["case"] == {"k": "值"} and got["caller"] == "child"


def test_postgresql_reconnects_after_server_side_disconnect(pg_url):
    """A pooled connection killed by the server (restart, failover) is replaced transparently."""
    import psycopg

    with DecisionLog.open(pg_url) as lg:
        lg.record([entry(1)])
        pool = lg._b.pool
        with pool.connection(), pool.connection(), pool.connection():
            pass                                       # the pool now holds 3 idle connections
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'aftersales' AND pid <> pg_backend_pid()").fetchone()[0]
        assert killed >= 3
        lg.record([entry(2)])                          # retried on a fresh connection
        assert lg.get("d-00001") is not None and lg.get("d-00002") is not None
        assert lg.ping()


# --------------------------------------------------------------------------- open / ping

def test_ping(log):
    assert log.ping() is True
    assert log.kind in ("sqlite", "postgresql")
    log.close()
    assert log.ping() is False


def test_ping_false_for_unreachable_postgresql():
    port = loopback_port()   # free, and nothing listens: connections are refused
    url = f"postgresql://nobody:secret@127.0.0.1:{port}/none?connect_timeout=1"
    lg = DecisionLog.open(url)   # does not fail: the server may come up later
    assert lg.kind == "postgresql"
    assert "secret" not in lg.target and "secret" not in repr(lg)
    assert lg.ping() is False
    with pytest.raises(DecisionLogUnavailable):
        lg.get("x")
    lg.close()


def test_default_is_sqlite_wal_full_under_var(tmp_path):
    var = tmp_path / "nested" / "var"
    with DecisionLog.open(None, var_dir=var) as lg:
        assert lg.kind == "sqlite" and lg.ping()
        lg.record([entry(1)])
    assert (var / "decisions.db").is_file()
    conn = sqlite3.connect(var / "decisions.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    with DecisionLog.open(None, var_dir=var) as lg:
        conn, _ = lg._b.pool.acquire()
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2   # FULL
        lg._b.pool.release(conn, True)
        assert lg.get("d-00001")["decision_id"] == "d-00001"


@pytest.mark.parametrize("setting, synchronous", [(None, 2), ("power-loss", 2), ("process-crash", 1)])
def test_durability_setting_picks_sqlite_synchronous(tmp_path, setting, synchronous):
    """AFTERSALES_DURABILITY reaches the log: power-loss (the default) fsyncs every commit
    (synchronous=FULL, 2), process-crash does not (NORMAL, 1)."""
    settings = Settings.from_env({} if setting is None else {"AFTERSALES_DURABILITY": setting})
    with DecisionLog.open(None, var_dir=tmp_path, durability=settings.durability) as lg:
        conn, _ = lg._b.pool.acquire()
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == synchronous
        lg._b.pool.release(conn, True)


def test_unknown_durability_is_refused_naming_the_variable():
    with pytest.raises(SettingsError, match="AFTERSALES_DURABILITY='fast': expected power-loss or process-crash"):
        Settings.from_env({"AFTERSALES_DURABILITY": "fast"})


@pytest.mark.parametrize("url, scheme", [
    ("mysql://root@localhost/db", "mysql"),
    ("redis://localhost:6379", "redis"),
    ("/var/lib/decisions.db", "(none)"),
])
def test_open_bad_scheme(url, scheme):
    with pytest.raises(ValueError, match=re.escape(f"scheme '{scheme}'")):
        DecisionLog.open(url)


def test_open_bad_scheme_does_not_echo_password():
    with pytest.raises(ValueError) as err:
        DecisionLog.open("mysql://root:hunter2@localhost/db")
    assert "hunter2" not in str(err.value)
