"""Issue 10, items 6, 8 and the decision-log half of 7: personal data never reaches the decision
log; hostile paging cursors and unstorable text are clear errors, not 500s; /readyz says whether a
decision can be stored now; a full metrics disk fails no request (and kills no worker).

The disk tests mount small tmpfs file systems (root only; skipped with the reason otherwise).
PostgreSQL cases run under tests/pg_harness.sh (`make test`), like tests/api/test_decision_log.py.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from api import create_app
from api import decision_log as dl
from api.decision_log import DecisionLog, LogEntry, UnstorableEntry
from api.problems import Problem
from api.settings import Settings

from tests.conftest import ROOT, RULES

PHONE, NAME = "13800138000", "张三丰"

# A rule set whose rules read a pii input: C-1 fires and copies the phone into an output; C-2
# reads a derived fact computed from it; C-3 reads it and does not fire (its not_fired values).
CONTACT = """\
ruleset: contact
title: 回访联系
version: "1"
decides: 回访方式与拨打号码
sources: [test]
inputs:
  customer_phone: {type: string, pii: true, title: 客户电话}
  customer_name: {type: string, pii: true, title: 客户姓名}
  amount: {type: money, min: 0, title: 金额}
derived:
  hotline_caller: customer_phone == '4008008000'
outputs:
  channel: {type: enum, values: [phone, letter], title: 回访方式}
  call_number: {type: string, title: 拨打号码}
stages:
  - name: contact
    title: 联系
    rules:
      - id: C-1
        title: 有电话则电话回访
        source: test § 1
        when: given(customer_phone)
        then:
          channel: phone
          call_number: = customer_phone
      - id: C-2
        title: 热线来电者写信回访
        source: test § 2
        priority: 1
        when: hotline_caller
        then:
          channel: letter
      - id: C-3
        title: 报警电话不回访
        source: test § 3
        when: customer_phone == '110'
        then:
          channel: letter
"""
CONTACT_CASE = {"customer_phone": PHONE, "customer_name": NAME, "amount": "88.00"}


def _rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    if not rules.exists():
        shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("tests"))
        (rules / "contact.yaml").write_text(CONTACT, encoding="utf-8")
    return rules


def _app(tmp_path: Path, database_url: str | None):
    settings = Settings(rules_dir=_rules(tmp_path), var_dir=tmp_path / "var", tokens={}, reload_interval=0, development=True,
                        database_url=database_url)
    return create_app(settings, watch=False)


@pytest.fixture
def fresh_probe(monkeypatch):
    """Every /readyz probes the log (no answer reused from the last second)."""
    monkeypatch.setattr(dl, "PROBE_MAX_AGE_S", 0.0)


# --------------------------------------------------------------------------- item 6: personal data

def test_pii_is_masked_everywhere_in_the_log_with_explain_full(tmp_path, db_url):
    client = _app(tmp_path, db_url).test_client()
    r = client.post("/v1/decisions/contact", json={"case": CONTACT_CASE, "as_of": "2026-11-25", "explain": "full"})
    assert r.status_code == 200, r.get_data(as_text=True)
    answer = r.get_json()
    # the caller gets the decision in full
    assert answer["decision"]["call_number"] == PHONE
    assert answer["fired"][0]["values"]["customer_phone"] == PHONE
    not_fired = {n["id"]: n for n in answer["not_fired"]}
    assert not_fired["C-3"]["values"]["customer_phone"] == PHONE

    stored = client.get(f"/v1/decisions/{answer['decision_id']}").get_json()
    item = client.get("/v1/decisions?ruleset=contact").get_json()["items"][0]
    exported = client.get("/v1/decisions?ruleset=contact&format=jsonl").get_data(as_text=True)
    for text in (json.dumps(stored, ensure_ascii=False), json.dumps(item, ensure_ascii=False), exported):
        assert PHONE not in text and NAME not in text
    assert item["response"] == stored
    assert item["case"] == {"customer_phone": "***", "customer_name": "***", "amount": "88.00"}
    assert stored["decision"] == {"channel": "phone", "call_number": "***"}  # an output copied from the phone
    assert stored["fired"][0]["values"] == {"customer_phone": "***"}
    assert stored["fired"][0]["sets"] == {"channel": "phone", "call_number": "***"}
    logged_not_fired = {n["id"]: n for n in stored["not_fired"]}
    assert logged_not_fired["C-3"]["values"] == {"customer_phone": "***"}  # the leak of issue 10 item 6
    assert logged_not_fired["C-2"]["values"] == {"hotline_caller": "***"}  # a fact computed from the phone
    # everything else is kept as returned
    assert stored["decision_id"] == answer["decision_id"] and stored["ruleset"] == answer["ruleset"]
    assert logged_not_fired["C-3"]["failed"] == not_fired["C-3"]["failed"]


def test_a_pii_input_not_sent_stays_null_and_other_rule_sets_are_untouched(tmp_path):
    client = _app(tmp_path, None).test_client()
    r = client.post("/v1/decisions/contact", json={"case": {"customer_phone": None, "amount": "1.00"},
                                                   "as_of": "2026-11-25", "explain": "full"})
    assert r.status_code == 200, r.get_data(as_text=True)
    item = client.get("/v1/decisions?ruleset=contact").get_json()["items"][0]
    assert item["case"] == {"customer_phone": None, "amount": "1.00"}
    case = {"product_line": "electronics", "purchase_date": "2026-03-10", "fault_cause": "manufacturing",
            "request": "repair"}
    answer = client.post("/v1/decisions/warranty", json={"case": case, "as_of": "2026-11-25",
                                                          "explain": "full"}).get_json()
    assert client.get(f"/v1/decisions/{answer['decision_id']}").get_json() == answer


def test_the_log_masks_by_itself_whatever_the_caller_hands_it(db_url):
    """One masking place: the log, at record time, at any depth of the case and the response."""
    with DecisionLog.open(db_url) as log:
        case = {"phone": PHONE, "nested": [{"phone": PHONE, "kept": 1}]}
        response = {"decision_id": "p-1", "decision": {"x": 1},
                    "fired": [{"id": "R", "values": {"phone": PHONE}}],
                    "not_fired": [{"id": "S", "values": {"phone": PHONE, "other": "ok"}}]}
        log.record([LogEntry("p-1", datetime(2026, 11, 25, tzinfo=timezone.utc), "r", "1", "sha256:x",
                             "2026-11-25", case, response, ["R"], 1.0, "t", pii=frozenset({"phone"}))])
        got = log.get("p-1")
    assert PHONE not in json.dumps(got)
    assert got["case"] == {"phone": "***", "nested": [{"phone": "***", "kept": 1}]}
    assert got["response"]["not_fired"][0]["values"] == {"phone": "***", "other": "ok"}
    assert response["fired"][0]["values"]["phone"] == PHONE  # what the caller holds is not touched


# --------------------------------------------------------------------------- item 7: hostile input

def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


HOSTILE_CURSORS = {
    "huge number": _cursor(b'["2026-11-25T01:02:03.000000Z", ' + b"9" * 700 + b"]"),
    "huge exponent": _cursor(b'[1E+1500000, "d-1"]'),
    "late timestamp": _cursor(b'["9999-12-31T23:00:00-10:00", "d-1"]'),
    "early timestamp": _cursor(b'["0001-01-01T00:00:00+14:00", "d-1"]'),
    "naive timestamp": _cursor(b'["2026-11-25T01:02:03", "d-1"]'),
    "month 13": _cursor(b'["2026-13-25T01:02:03.000000Z", "d-1"]'),
    "lone surrogate": _cursor(b'["2026-11-25T01:02:03.000000Z", "\\ud800"]'),
    "NUL in the id": _cursor(b'["2026-11-25T01:02:03.000000Z", "a\\u0000b"]'),
    "not UTF-8": _cursor(b'["\xff\xfe"]'),
    "nested": _cursor(b"[" * 700 + b"]" * 700),
    "garbage base64": "!!!~~~***",
    "not a list": _cursor(b'{"a": 1}'),
    "too long": "A" * (dl.MAX_CURSOR_CHARS + 1),
}


@pytest.mark.parametrize("cursor", HOSTILE_CURSORS.values(), ids=HOSTILE_CURSORS.keys())
def test_a_hostile_paging_cursor_is_a_value_error(db_url, cursor):
    with DecisionLog.open(db_url) as log:
        log.record([LogEntry("d-1", datetime(2026, 11, 25, tzinfo=timezone.utc), "r", "1", "sha256:x",
                             "2026-11-25", {}, {}, [], 1.0, "t")])
        with pytest.raises(ValueError, match="invalid paging cursor"):
            log.page(after=cursor)


@pytest.mark.parametrize("name, value", [
    ("since", datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-10)))),
    ("until", datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))),
])
def test_an_out_of_range_since_or_until_is_a_value_error_naming_it(db_url, name, value):
    with DecisionLog.open(db_url) as log:
        with pytest.raises(ValueError, match=f"^{name} .* out of range"):
            log.page(**{name: value})


@pytest.mark.parametrize("cursor", [HOSTILE_CURSORS["late timestamp"], HOSTILE_CURSORS["lone surrogate"],
                                    HOSTILE_CURSORS["huge number"]], ids=["late", "surrogate", "huge"])
def test_a_hostile_cursor_over_http_is_a_400(tmp_path, cursor):
    client = _app(tmp_path, None).test_client()
    for url in (f"/v1/decisions?cursor={cursor}", f"/v1/decisions?cursor={cursor}&format=jsonl"):
        r = client.get(url)
        assert r.status_code == 400 and r.mimetype == "application/problem+json", r.get_data(as_text=True)
        assert "cursor" in r.get_json()["detail"]


def test_a_lone_surrogate_is_an_error_naming_the_field_on_both_stores(db_url):
    at = datetime(2026, 11, 25, tzinfo=timezone.utc)
    with DecisionLog.open(db_url) as log:
        for kw, field in ((dict(case={"customer": {"name": "a\ud800b"}}), "case.customer.name"),
                          (dict(response={"fired": [{"values": {"x": "\udfff"}}]}), "response.fired[0].values.x"),
                          (dict(caller="ui:\ud800"), "caller"),
                          (dict(case={"k\ud800": 1}), "case.k\\ud800")):
            base = dict(decision_id="s-1", created_at=at, ruleset="r", version="1", digest="sha256:x",
                        as_of="2026-11-25", case={}, response={}, fired=[], duration_ms=1.0, caller="t")
            with pytest.raises(UnstorableEntry, match="lone surrogate") as err:
                log.record([LogEntry(**{**base, **kw})])
            assert err.value.field == field
        assert log.page() == ([], None)  # nothing stored, and the log still works
        log.record([LogEntry(**base)])
        assert log.get("s-1")["case"] == {}


def test_an_unstorable_case_is_a_422_naming_the_field_and_one_error_item_in_a_batch(tmp_path):
    svc = _app(tmp_path, None).extensions["aftersales"].decisions
    as_of = datetime(2026, 11, 25, tzinfo=timezone(timedelta(hours=8)))
    bad = dict(CONTACT_CASE, customer_name="张\ud800")  # a pii field: named although the log masks it
    with pytest.raises(Problem) as err:
        svc.decide("contact", bad, as_of, "full", "t")
    assert err.value.status == 422 and list(err.value.errors) == ["case.customer_name"]
    results = svc.decide_batch("contact", [CONTACT_CASE, bad], as_of, "full", "t")
    assert results[0]["decision"]["channel"] == "phone"
    assert results[1]["error"]["status"] == 422 and "case.customer_name" in results[1]["error"]["errors"]
    logged = svc.log.page(ruleset="contact")[0]
    assert [r["decision_id"] for r in logged] == [results[0]["decision_id"]]


# --------------------------------------------------------------------------- item 8: readiness, disks

@contextmanager
def tmpfs(path: Path, size: str):
    """A tmpfs of `size` at path (root only: skips the test, saying why, where mount is refused)."""
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill a disk (needs root): {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(path)], capture_output=True)
        subprocess.run(["umount", "-l", str(path)], check=True)


def _fill(folder: Path) -> Path:
    """Take every free byte of folder's file system; returns the filler file."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while f.write(b"\0" * 4096):
                pass
        except OSError:
            pass
    return filler


WARRANTY = {"case": {"product_line": "electronics", "purchase_date": "2026-03-10", "fault_cause": "manufacturing",
                     "request": "repair"}, "as_of": "2026-11-25"}


def _ready(client):
    r = client.get("/readyz")
    return r.status_code, r.get_json()


def test_readyz_and_decisions_on_a_full_disk_under_sqlite(tmp_path, fresh_probe):
    with tmpfs(tmp_path / "disk", "512k") as disk:
        client = _app(tmp_path, f"sqlite:///{disk / 'decisions.db'}").test_client()
        assert client.post("/v1/decisions/warranty", json=WARRANTY).status_code == 200
        status, body = _ready(client)
        assert status == 200 and body["decision_log_writable"] is True
        filler = _fill(disk)
        status, body = _ready(client)
        assert status == 503 and body["decision_log_writable"] is False and body["status"] == "not ready"
        r = client.post("/v1/decisions/warranty", json=WARRANTY)
        assert r.status_code == 503 and r.mimetype == "application/problem+json"
        filler.unlink()
        status, body = _ready(client)
        assert status == 200 and body["decision_log_writable"] is True
        assert client.post("/v1/decisions/warranty", json=WARRANTY).status_code == 200
        assert len(client.get("/v1/decisions").get_json()["items"]) == 2  # the probes stored no decision


def test_readyz_and_decisions_on_a_read_only_sqlite_database(tmp_path, fresh_probe, monkeypatch):
    """The database file opened read-only (as root, chmod does not stop writes; a remount would
    need the file closed): reads work, writes fail — before, /readyz said ready."""
    import sqlite3

    app = _app(tmp_path, None)
    client, log = app.test_client(), app.extensions["aftersales"].log
    assert client.post("/v1/decisions/warranty", json=WARRANTY).status_code == 200
    assert _ready(client)[0] == 200
    keep = sqlite3.connect(tmp_path / "var" / "decisions.db")  # keeps the WAL files while ours reopen
    read_write = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda path, *a, **kw: read_write(f"file:{path}?mode=ro", *a, uri=True, **kw))
    log._b.pool.discard_idle()
    try:
        status, body = _ready(client)
        assert status == 503 and body["database_reachable"] is True and body["decision_log_writable"] is False
        r = client.post("/v1/decisions/warranty", json=WARRANTY)
        assert r.status_code == 503 and r.mimetype == "application/problem+json"
        assert client.get("/v1/decisions").status_code == 200  # the audit side still reads
        monkeypatch.setattr(sqlite3, "connect", read_write)
        log._b.pool.discard_idle()
        assert _ready(client)[0] == 200
        assert client.post("/v1/decisions/warranty", json=WARRANTY).status_code == 200
    finally:
        keep.close()


def test_readyz_and_decisions_when_postgresql_refuses_writes(tmp_path, pg_url, fresh_probe):
    """The server answers (SELECT works) but no row can be written, as on a full disk."""
    import psycopg

    client = _app(tmp_path, pg_url).test_client()
    assert client.post("/v1/decisions/warranty", json=WARRANTY).status_code == 200
    assert _ready(client)[0] == 200
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                     "RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; "
                     "END $$")
        for table in ("decisions", "decision_log_probe"):
            conn.execute(f"CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON {table} "
                         "FOR EACH ROW EXECUTE FUNCTION refuse()")
    status, body = _ready(client)
    assert status == 503 and body["database_reachable"] is True and body["decision_log_writable"] is False
    r = client.post("/v1/decisions/warranty", json=WARRANTY)
    assert r.status_code == 503 and r.mimetype == "application/problem+json"


def test_readyz_probe_is_rate_limited_and_stores_no_decision(tmp_path):
    app = _app(tmp_path, None)
    client, log = app.test_client(), app.extensions["aftersales"].log
    calls = []
    real = log._b.probe_write
    log._b.probe_write = lambda: calls.append(1) or real()
    for _ in range(20):
        status, body = _ready(client)
        assert status == 200 and body["decision_log_writable"] is True and body["metrics_ok"] is True
    assert len(calls) == 1  # one commit a second at most, however often /readyz is asked
    assert log.page() == ([], None)


def test_a_full_metrics_disk_fails_no_request_and_kills_no_worker(tmp_path):
    """prometheus-client's multiprocess files on a full disk: before, the worker died of SIGBUS."""
    _rules(tmp_path)
    script = textwrap.dedent(f"""
        import json, os, sys
        from pathlib import Path
        from api import create_app
        from api.settings import Settings
        app = create_app(Settings(rules_dir=Path({str(tmp_path / 'rules')!r}), var_dir=Path({str(tmp_path / 'var')!r}),
                                  reload_interval=0), watch=False)
        client = app.test_client()
        body = {json.dumps(WARRANTY)!r}
        out = {{}}
        r = client.post("/v1/decisions/warranty", data=body, content_type="application/json")
        out["full"] = r.status_code
        out["readyz"] = [client.get("/readyz").status_code, client.get("/readyz").get_json()]
        os.unlink(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "filler"))
        out["freed"] = client.post("/v1/decisions/warranty", data=body, content_type="application/json").status_code
        out["metrics"] = client.get("/metrics").get_data(as_text=True)
        print(json.dumps(out))
    """)
    with tmpfs(tmp_path / "metrics", "128k") as folder:
        _fill(folder)
        env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(folder))
        p = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120)
    assert p.returncode == 0, f"exit {p.returncode}: {p.stderr[-2000:]}"
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["full"] == 200 and out["freed"] == 200
    status, body = out["readyz"]
    assert status == 200 and body["metrics_ok"] is False and "free" in body["metrics_error"]
    assert p.stderr.count("could not be written") == 1  # one log line, not one per update
    # the decision counted while the disk was full was kept and written once there was room
    assert re.search(r'^aftersales_decisions_total\{[^}]*ruleset="warranty"\} 2\.0$', out["metrics"], re.M)
    assert re.search(r'^aftersales_decision_seconds_count\{ruleset="warranty"\} 2\.0$', out["metrics"], re.M)


def test_an_unreadable_metrics_file_is_a_503_not_a_500(tmp_path, monkeypatch):
    (tmp_path / "counter_1.db").write_bytes(b"")  # a file cut short
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    r = _app(tmp_path, None).test_client().get("/metrics")
    assert r.status_code == 503 and r.mimetype == "application/problem+json"
