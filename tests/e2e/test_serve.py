"""`aftersales serve` as a real subprocess on loopback: start-up, hot reload under load,
and durability of every decision that got a 200 across a kill -9."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ..conftest import RULES
from ..ports import loopback_port

AFTERSALES = str(Path(sys.executable).parent / "aftersales")
SLA_CASE = {"kind": "repair", "requested_at": "2026-11-23T09:00:00+08:00"}


def call(url, body=None, timeout=10, token=None, method=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


class Server:
    def __init__(self, tmp_path, host="127.0.0.1", workers=2):
        self.rules = tmp_path / "rules"
        if not self.rules.exists():
            shutil.copytree(RULES, self.rules, ignore=shutil.ignore_patterns("tests"))
        self.port = loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, AFTERSALES_RULES=str(self.rules), AFTERSALES_VAR=str(tmp_path / "var"),
                   AFTERSALES_RELOAD_INTERVAL="0.2", AFTERSALES_MODE="development")
        env.pop("AFTERSALES_DATABASE_URL", None)
        self.log = tmp_path / f"server-{self.port}.log"  # a file, not a pipe: a full pipe would block the server
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen([AFTERSALES, "serve", "--host", host, "--port", str(self.port),
                                          "--workers", str(workers)], env=env, start_new_session=True,
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if call(self.url + "/readyz", timeout=1)[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise AssertionError("server did not become ready:\n" + self.log.read_text())

    def kill(self, sig=signal.SIGKILL):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=20)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    s.kill(signal.SIGTERM)


def test_serve_decides_and_says_it_is_loopback_only(server):
    status, d = call(server.url + "/v1/decisions/sla", {"case": SLA_CASE, "as_of": "2026-11-23T10:00:00+08:00"})
    assert status == 200 and d["decision"]["response_status"] == "pending"


def test_no_tokens_means_loopback_even_when_asked_for_all_interfaces(tmp_path):
    s = Server(tmp_path, host="0.0.0.0", workers=1)
    s.kill(signal.SIGTERM)
    out = s.log.read_text()
    assert "binding to 127.0.0.1, not 0.0.0.0" in out


def test_hot_reload_under_load_good_and_broken_edits(tmp_path):
    # One worker: each gunicorn worker reloads on its own, so with two a worker could go from the
    # old version straight to the broken edit and the expected digest would depend on timing.
    server = Server(tmp_path, workers=1)
    try:
        _reload_under_load(server)
    finally:
        server.kill(signal.SIGTERM)


def _reload_under_load(server):
    path = server.rules / "sla.yaml"
    original = path.read_text(encoding="utf-8")
    digests, failures, stop = set(), [], threading.Event()

    def load():
        while not stop.is_set():
            status, d = call(server.url + "/v1/decisions/sla", {"case": SLA_CASE, "as_of": "2026-11-23T10:00:00+08:00"})
            if status != 200:
                failures.append((status, d))
            else:
                digests.add(d["ruleset"]["digest"])

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        old = {r["name"]: r for r in call(server.url + "/v1/rulesets")[1]["rulesets"]}["sla"]["digest"]
        path.write_text(original.replace('version: "2026.1"', 'version: "2026.9"'), encoding="utf-8")
        deadline = time.monotonic() + 15
        new = old
        while time.monotonic() < deadline and new == old:
            time.sleep(0.2)
            new = {r["name"]: r for r in call(server.url + "/v1/rulesets")[1]["rulesets"]}["sla"]["digest"]
        assert new != old, "the good edit was not picked up"
        path.write_text(original + "\n  - this is: [not valid\n", encoding="utf-8")
        deadline, sla = time.monotonic() + 15, {}
        while time.monotonic() < deadline and sla.get("status") != "edit_rejected":
            time.sleep(0.2)
            sla = {r["name"]: r for r in call(server.url + "/v1/rulesets")[1]["rulesets"]}["sla"]
        assert sla["status"] == "edit_rejected" and sla["digest"] == new
        assert sla["error"][0]["file"].endswith("sla.yaml")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures
    assert digests <= {old, new} and new in digests


def test_every_decision_that_got_a_200_survives_kill_9(tmp_path):
    server = Server(tmp_path)
    got, stop = [], threading.Event()

    def client():
        while not stop.is_set():
            try:
                status, d = call(server.url + "/v1/decisions/sla",
                                 {"case": SLA_CASE, "as_of": "2026-11-23T10:00:00+08:00"}, timeout=5)
            except (OSError, http.client.HTTPException):
                return  # the server is gone (an answer may be cut off mid-body: IncompleteRead)
            if status == 200:
                got.append(d)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    server.kill(signal.SIGKILL)  # master and workers at once, mid-request
    stop.set()
    for t in threads:
        t.join()
    assert len(got) > 20
    restarted = Server(tmp_path)
    try:
        for d in got:
            status, stored = call(f"{restarted.url}/v1/decisions/{d['decision_id']}")
            assert status == 200 and stored == d
    finally:
        restarted.kill(signal.SIGTERM)
