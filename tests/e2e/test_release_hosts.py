"""Two hosts, one PostgreSQL: a release walked through the API is served by both within the bound.

Two `aftersales serve` processes on different ports (separate var dirs: two machines) share one
database (a fresh schema per test, tests/conftest.py `pg_url`). A client thread sends scrap-pricing
decisions to both alternately and records, for each, when it was sent and answered, the status and
the release the decision names. The release lowers the scrap floor ratio from 0.85 to 0.80 (with
the rule tests' expected floors updated, so that it can be approved). Checked: zero failed
requests; every decision names a release that was active while it was under way, a switch being
allowed to take SWITCH_BOUND_S after the activation was answered (or after the scheduled instant);
and the measured switch time of each host, which the test prints.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from releases.snapshot import read_folder

from ..conftest import ROOT, RULES
from ..ports import loopback_port
from . import test_serve

AFTERSALES = str(Path(sys.executable).parent / "aftersales")
SWITCH_BOUND_S = 2.0  # issue 12: every host serves the active release within this after it becomes active
SCHEDULE_AHEAD_S = 3.0  # a scheduled activation's instant: this far after the request
READY_TIMEOUT_S = 60  # start-up of one host (gunicorn, two workers, the first import)
EVIDENCE_TIMEOUT_S = 300  # load, check, rule tests and impact of a submitted release, on a busy 2-core machine
REQUEST_TIMEOUT_S = 10
FIRST_ANSWER_TIMEOUT_S = 10  # the first decisions of both hosts (workers warm up)
TAIL_S = 1.0  # decisions kept being sent after both hosts switched, to catch one that flips back

CST = timezone(timedelta(hours=8))
TOKENS = {"author": "ann-token-0123456789", "approver": "bob-token-0123456789", "admin": "ada-token-0123456789",
          "client": "cli-token-0123456789"}
TOKEN_SPEC = (f"ann:{TOKENS['author']}:author,bob:{TOKENS['approver']}:approver,ada:{TOKENS['admin']}:admin,"
              f"cli:{TOKENS['client']}:decide+audit")
CASE = json.loads((ROOT / "examples/scrap_pricing/boom_scrap_xinjiang.json").read_text(encoding="utf-8"))
AS_OF = "2026-11-25T10:00:00+08:00"

FLOOR_080 = {
    # the policy owner's edit: the floor ratio, and the rule tests' expected floors and prices with it
    "scrap_pricing.yaml": [("    value: 0.85\n", "    value: 0.80\n")],
    "tests/scrap_pricing/pricing.yaml": [
        ('floor_price: "3400.00"', 'floor_price: "3200.00"'), ('floor_price: "5397.50"', 'floor_price: "5080.00"'),
        ('floor_price: "201.98"', 'floor_price: "190.10"'), ('floor_price: "1049.33"', 'floor_price: "987.60"'),
        ('floor_price: "3060.00"', 'floor_price: "2880.00"'), ('floor_price: "2295.00"', 'floor_price: "2160.00"'),
        ('floor_price: "944.39"', 'floor_price: "888.84"')],
    "tests/scrap_pricing/disposition.yaml": [
        ('floor_price: "2040.00"', 'floor_price: "1920.00"'), ('floor_price: "850.00"', 'floor_price: "800.00"'),
        ('floor_price: "85.00"', 'floor_price: "80.00"')],
    "tests/scrap_pricing/verdict.yaml": [
        ('floor_price: "3400.00"', 'floor_price: "3200.00"'), ('floor_price: "3060.00"', 'floor_price: "2880.00"'),
        ('proposed_price: "3400.00"', 'proposed_price: "3200.00"'),
        ('proposed_price: "3399.99"', 'proposed_price: "3199.99"'),
        ('proposed_price: "3060.00"', 'proposed_price: "2880.00"'),
        ('proposed_price: "3059.99"', 'proposed_price: "2879.99"')],
}


def floor_080_files() -> dict:
    """A copy of rules/ with the scrap floor ratio lowered to 0.80 (every edit must apply)."""
    files = dict(read_folder(RULES).files)
    for name, edits in FLOOR_080.items():
        for old, new in edits:
            assert old in files[name], f"{name} no longer holds {old!r}: update FLOOR_080"
            files[name] = files[name].replace(old, new)
    return files


def call(url: str, body=None, token: str | None = None, method: str | None = None):
    return test_serve.call(url, body, REQUEST_TIMEOUT_S, token, method)


class Host:
    """One `aftersales serve` (two workers) with its own var dir, on the shared database."""

    def __init__(self, tmp_path: Path, rules: Path, db_url: str, name: str):
        self.port = loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, AFTERSALES_RULES=str(rules), AFTERSALES_VAR=str(tmp_path / name / "var"),
                   AFTERSALES_DATABASE_URL=db_url, AFTERSALES_MODE="production",
                   AFTERSALES_RELOAD_INTERVAL="0.5", AFTERSALES_TOKENS=TOKEN_SPEC)
        self.log = tmp_path / f"{name}-{self.port}.log"  # a file, not a pipe: a full pipe would block the server
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen([AFTERSALES, "serve", "--port", str(self.port), "--workers", "2"],
                                         env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if call(self.url + "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"{name} did not become ready:\n" + self.log.read_text())

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)


@dataclass(frozen=True)
class Sample:
    host: int
    sent: float  # wall-clock seconds (time.time()): the scheduled instant is a wall-clock one
    answered: float
    status: int | None  # None: no HTTP answer at all
    release: str | None
    error: str | None = None


class Client(threading.Thread):
    """Sends the case to each host in turn, one request at a time, until stopped."""

    def __init__(self, hosts: list[Host]):
        super().__init__(name="decisions-client", daemon=True)
        self.hosts = hosts
        self.samples: list[Sample] = []
        self.halt = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.halt.is_set():
            host = i % len(self.hosts)
            sent = time.time()
            try:
                status, body = call(self.hosts[host].url + "/v1/decisions/scrap_pricing",
                                    {"case": CASE, "as_of": AS_OF}, TOKENS["client"])
                self.samples.append(Sample(host, sent, time.time(), status, body.get("release")))
            except Exception as e:  # noqa: BLE001 - a refused or broken connection is a failed request
                self.samples.append(Sample(host, sent, time.time(), None, None, f"{type(e).__name__}: {e}"))
            i += 1

    def wait_for(self, release: str, since: float, timeout: float) -> None:
        """Until each host has answered a decision sent after `since` naming `release`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(any(s.host == h and s.sent >= since and s.release == release for s in list(self.samples))
                   for h in range(len(self.hosts))):
                return
            time.sleep(0.05)
        raise AssertionError(f"not every host served {release} within {timeout} s")

    def settle(self, switch: Switch) -> None:
        """Until each host has answered a decision sent after the switch's bound naming its release.

        One decision naming the new release proves only that one worker of the host switched; the
        other may still be polling. Past the bound every worker must have switched (check_samples
        asserts it), so the switch time of each host is measurable before the next change."""
        self.wait_for(switch.to, switch.end, max(0.0, switch.end - time.time()) + SWITCH_BOUND_S)


@dataclass(frozen=True)
class Switch:
    """A change of the active release: it may happen anywhere from `start` to `end` (wall clock)."""
    to: str
    start: float
    end: float


def allowed(sample: Sample, first: str, switches: list[Switch]) -> set:
    """The releases a decision under way from `sample.sent` to `sample.answered` may name."""
    current, out = first, set()
    for sw in switches:
        if sw.end <= sample.sent:  # over before the request was sent
            current = sw.to
        elif sw.start < sample.answered:  # under way while the request was
            out.add(sw.to)
    return out | {current}


def switch_times(samples: list[Sample], to: str, at: float, hosts: int, until: float = float("inf")) -> list[float]:
    """Per host: from `at` to the answer of its first decision naming `to` after its last one
    naming anything else (so every worker of the host had switched), in seconds."""
    out = []
    for h in range(hosts):
        mine = [s for s in samples if s.host == h and s.sent >= at - SWITCH_BOUND_S and s.sent < until]
        last_other = max((s.answered for s in mine if s.release != to), default=at)
        first_new = min((s.answered for s in mine if s.release == to and s.sent >= last_other), default=None)
        assert first_new is not None, f"host {h} answered no decision naming {to} after its last other one"
        out.append(round(first_new - at, 3))
    return out


def check_samples(client: Client, first: str, switches: list[Switch]) -> None:
    samples = list(client.samples)
    failed = [s for s in samples if s.status != 200]
    assert not failed, f"{len(failed)} of {len(samples)} requests failed, e.g. {failed[:3]}"
    wrong = [(s, allowed(s, first, switches)) for s in samples if s.release not in allowed(s, first, switches)]
    assert not wrong, f"{len(wrong)} decisions named a release not active then, e.g. {wrong[:3]}"
    assert {s.host for s in samples} == {0, 1}


# ------------------------------------------------------------------------------ the walk


@pytest.fixture
def hosts(tmp_path, pg_url):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    started = []
    try:
        # one after the other: the first imports rules/ as the first release, the second finds it
        for name in ("host-a", "host-b"):
            started.append(Host(tmp_path, rules, pg_url, name))
        yield started
    finally:
        for h in started:
            h.stop()


def approved_release(base: str) -> str:
    """create (a copy of rules/, floor ratio 0.80) → submit → evidence → approve by another person."""
    status, rel = call(base + "/v1/releases", {"message": "废旧件底价比例 0.85 → 0.80", "files": floor_080_files()},
                       TOKENS["author"])
    assert status == 201 and rel["state"] == "draft", rel
    rid = rel["id"]
    status, rel = call(f"{base}/v1/releases/{rid}/submit", {}, TOKENS["author"])
    assert status == 202, rel
    deadline = time.monotonic() + EVIDENCE_TIMEOUT_S
    while rel["evidence_state"] in ("none", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        rel = call(f"{base}/v1/releases/{rid}", token=TOKENS["approver"])[1]
    assert rel["evidence_state"] == "done", rel.get("evidence_progress")
    assert rel["evidence"]["ok_to_approve"], rel["evidence"]["tests"]["failures"]
    status, rel = call(f"{base}/v1/releases/{rid}/approve", {"reason": "复核过测试与影响"}, TOKENS["approver"])
    assert status == 200 and rel["state"] == "approved", rel
    return rid


def active(base: str) -> str:
    status, body = call(base + "/v1/releases", token=TOKENS["approver"])
    assert status == 200, body
    return body["active"]


def test_activate_and_roll_back_on_two_hosts(hosts):
    a, b = hosts
    first = active(a.url)
    assert first is not None and active(b.url) == first
    client = Client(hosts)
    client.start()
    try:
        client.wait_for(first, 0, FIRST_ANSWER_TIMEOUT_S)
        new = approved_release(a.url)

        sent = time.time()
        status, rel = call(f"{b.url}/v1/releases/{new}/activate", {"reason": "按计划上线"}, TOKENS["approver"])
        answered = time.time()
        assert status == 200 and rel["state"] == "active", rel
        activation = Switch(new, sent, answered + SWITCH_BOUND_S)
        client.settle(activation)

        sent = time.time()
        status, rel = call(a.url + "/v1/releases/rollback", {"reason": "紧急回退：底价争议"}, TOKENS["approver"])
        back = time.time()
        assert status == 200 and rel["id"] == first and rel["state"] == "active", rel
        assert [e["action"] for e in rel["events"]][-1] == "rollback"
        rollback = Switch(first, sent, back + SWITCH_BOUND_S)
        client.settle(rollback)
        time.sleep(TAIL_S)
    finally:
        client.halt.set()
        client.join()
    check_samples(client, first, [activation, rollback])
    forward = switch_times(client.samples, new, activation.end - SWITCH_BOUND_S, 2, until=rollback.start)
    backward = switch_times(client.samples, first, rollback.end - SWITCH_BOUND_S, 2)
    print(f"\nswitch times (s) after activate's answer, per host: {forward}; after rollback's answer: {backward}; "
          f"{len(client.samples)} decisions")
    assert max(forward + backward) <= SWITCH_BOUND_S


def test_scheduled_activation_on_two_hosts(hosts):
    a, b = hosts
    first = active(a.url)
    client = Client(hosts)
    client.start()
    try:
        client.wait_for(first, 0, FIRST_ANSWER_TIMEOUT_S)
        new = approved_release(b.url)
        instant = time.time() + SCHEDULE_AHEAD_S
        at = datetime.fromtimestamp(instant, CST).isoformat()
        status, rel = call(f"{a.url}/v1/releases/{new}/activate", {"at": at}, TOKENS["approver"])
        assert status == 200 and rel["state"] == "scheduled", rel
        assert datetime.fromisoformat(rel["scheduled_at"]) == datetime.fromisoformat(at)
        assert active(b.url) == first and time.time() < instant  # before the instant: the old release
        scheduled = Switch(new, instant, instant + SWITCH_BOUND_S)
        client.settle(scheduled)
        time.sleep(TAIL_S)
        assert active(b.url) == new
    finally:
        client.halt.set()
        client.join()
    check_samples(client, first, [scheduled])
    assert any(s.sent < instant and s.answered < instant for s in client.samples)  # the old release was seen before
    times = switch_times(client.samples, new, instant, 2)
    print(f"\nswitch times (s) after the scheduled instant, per host: {times}; {len(client.samples)} decisions")
    assert max(times) <= SWITCH_BOUND_S
