"""A broken rules source on the running service (issue 10, items 2, 4 and 10; api/rulesource.py): a
refused edit is answered 200 and the last good version serves, logged once; all workers of one server
serve the version one of them decided; a deleted or emptied rules folder is a refused change.
The refusal itself (file:line) is tests/engine/loading/test_rule_file_hardening.py."""
import logging
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from api import create_app
from api.rulesource import SOURCE, RuleSource
from api.settings import Settings
from db import Database
from releases.governance import Governance
from releases.store import ReleaseStore
from engine.errors import RulesError
from engine.loading.compiler import compile_ruleset

from tests.conftest import RULES
from tests.e2e import test_serve
from tests.engine.loading.test_rule_file_hardening import (ORIGINAL, PARAMS_LINE, SLA_CASE, deep_nesting,
                                                           huge_parameter, rules_copy)
from tests.ports import loopback_port

SLA_BODY = {"case": SLA_CASE, "as_of": "2026-11-23T10:00:00+08:00"}


def rule_source(rules, var) -> RuleSource:
    """A rule source in development mode, its releases in var/decisions.db (as `make run` keeps them)."""
    return RuleSource(rules, "python", Governance(ReleaseStore(Database.from_url(None, var))), var_dir=var)


def make_app(tmp_path, rules=None, **kw):
    settings = Settings(rules_dir=rules or rules_copy(tmp_path), var_dir=tmp_path / "var", reload_interval=0, development=True,
                        backend="python", **kw)
    return create_app(settings, watch=False)


def sla_status(client) -> dict:
    return {r["name"]: r for r in client.get("/v1/rulesets").get_json()["rulesets"]}["sla"]


# ------------------------------------------------------------------------------ item 2


def test_start_up_with_a_hostile_file_serves_the_others_and_says_why(tmp_path):
    rules = rules_copy(tmp_path)
    (rules / "sla.yaml").write_text(deep_nesting(), encoding="utf-8")
    client = make_app(tmp_path, rules).test_client()  # before: RecursionError, the worker did not boot
    sla = sla_status(client)
    assert sla["status"] == "failed" and sla["error"][0]["file"].endswith("sla.yaml")
    assert sla["error"][0]["line"] == ORIGINAL.count("\n") + 1
    assert client.post("/v1/decisions/sla", json=SLA_BODY).status_code == 404
    r = client.post("/v1/decisions/depreciation", json={"case": {"cost": "100.00", "stock_in_date": "2026-01-01"},
                                                         "as_of": "2026-11-25"})
    assert r.status_code == 200
    assert client.get("/readyz").status_code == 200


def test_reload_of_a_hostile_edit_answers_200_and_the_last_good_version_serves(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    digest = sla_status(client)["digest"]
    (tmp_path / "rules" / "sla.yaml").write_text(huge_parameter(), encoding="utf-8")
    r = client.post("/v1/rulesets/reload")  # before: 500
    assert r.status_code == 200 and r.get_json()["reloaded"] == {"sla": "rejected"}
    sla = sla_status(client)
    assert sla["status"] == "edit_rejected" and sla["digest"] == digest
    assert sla["error"][0]["line"] == PARAMS_LINE + 1 and "30 digits" in sla["error"][0]["message"]
    assert client.post("/v1/decisions/sla", json=SLA_BODY).get_json()["ruleset"]["digest"] == digest


def test_a_refused_edit_is_logged_once_not_once_per_poll(tmp_path, caplog):
    source = rule_source(rules_copy(tmp_path), tmp_path / "var")
    caplog.set_level(logging.INFO, logger="aftersales.rules")
    caplog.clear()
    (tmp_path / "rules" / "sla.yaml").write_text(deep_nesting(), encoding="utf-8")
    source.watch(0.02)
    try:
        time.sleep(3.0)  # the refusal (under a second), then a hundred polls more
    finally:
        source.stop()
    records = [r for r in caplog.records if r.name == "aftersales.rules"]
    assert len(records) == 1, [r.getMessage()[:80] for r in records]
    assert records[0].levelno == logging.WARNING and "sla.yaml:" in records[0].getMessage()
    assert not records[0].exc_info  # a refusal, not a traceback


def test_a_refused_edit_publishes_nothing_and_compiles_no_release(tmp_path, monkeypatch):
    """Development mode: a refused edit leaves the served texts as they were, so publishing them is
    known to change nothing before anything is compiled (each save used to compile every rule set
    in every worker, which delayed the refusal past a second on a loaded machine)."""
    import releases.governance
    source = rule_source(rules_copy(tmp_path), tmp_path / "var")
    compiled = []
    real = releases.governance.compile_snapshot
    monkeypatch.setattr(releases.governance, "compile_snapshot", lambda snap: compiled.append(snap) or real(snap))
    (tmp_path / "rules" / "sla.yaml").write_text(deep_nesting(), encoding="utf-8")
    assert source.reload() == {"sla": "rejected"}
    assert compiled == [] and source.governance.active() == "r1"
    _edit(tmp_path / "rules", "2026.9")
    assert source.reload() == {"sla": "reloaded"}
    assert len(compiled) == 1 and source.governance.active() == "r2"


# ------------------------------------------------------------------------------ item 4


def _edit(rules: Path, version: str):
    path = rules / "sla.yaml"
    path.write_text(ORIGINAL.replace('version: "2026.1"', f'version: "{version}"'), encoding="utf-8")


@pytest.mark.parametrize("first", ["accepting", "refusing"])
def test_two_workers_serve_the_version_the_first_one_decided(tmp_path, first):
    """Two sources (as two workers) on one folder and var dir, whose validators disagree on an edit."""
    rules = rules_copy(tmp_path)
    accepting = rule_source(rules, tmp_path / "var")
    refusing = rule_source(rules, tmp_path / "var")
    before = refusing.book.get("sla").ruleset.digest

    def validate(path, calendar, text):
        if "2026.7" in text:
            raise RulesError([])
        return compile_ruleset(path, calendar, text)
    refusing.validate = validate
    _edit(rules, "2026.7")
    workers = [accepting, refusing] if first == "accepting" else [refusing, accepting]
    for w in workers:
        w.reload()
    digests = {w.book.get("sla").ruleset.digest for w in workers}
    assert len(digests) == 1  # before: each worker decided for itself
    assert (digests == {before}) == (first == "refusing")  # the first worker's verdict serves everywhere


def test_a_worker_that_missed_a_good_version_serves_it_after_a_broken_edit(tmp_path):
    """good edit → one worker loads it → broken edit: the other worker must not stay on the old version."""
    rules = rules_copy(tmp_path)
    a = rule_source(rules, tmp_path / "var")
    b = rule_source(rules, tmp_path / "var")
    _edit(rules, "2026.7")
    a.reload()
    (rules / "sla.yaml").write_text(ORIGINAL + "\n  - broken: [\n", encoding="utf-8")
    b.reload()
    a.reload()
    assert a.book.get("sla").ruleset.version == b.book.get("sla").ruleset.version == "2026.7"
    assert without_times(a.status()) == without_times(b.status())


def without_times(status: list) -> list:
    return [{k: v for k, v in item.items() if k != "loaded_at"} for item in status]


def test_a_restarted_server_keeps_serving_the_last_accepted_version(tmp_path):
    rules = rules_copy(tmp_path)
    _edit(rules, "2026.7")
    rule_source(rules, tmp_path / "var")
    (rules / "sla.yaml").write_text(ORIGINAL + "\n  - broken: [\n", encoding="utf-8")
    restarted = rule_source(rules, tmp_path / "var")
    assert restarted.book.get("sla").ruleset.version == "2026.7"
    assert restarted.book.errors["sla"].problems[0].file.endswith("sla.yaml")


class TwoWorkers:
    """`aftersales serve --workers 2` on a loopback port in 30000–32767, polling the rules every 3 s."""

    def __init__(self, tmp_path):
        self.rules = rules_copy(tmp_path)
        self.port = loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, AFTERSALES_RULES=str(self.rules), AFTERSALES_VAR=str(tmp_path / "var"),
                   AFTERSALES_RELOAD_INTERVAL="3", AFTERSALES_MODE="development")
        env.pop("AFTERSALES_DATABASE_URL", None)
        self.log = tmp_path / "server.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen([test_serve.AFTERSALES, "serve", "--port", str(self.port), "--workers", "2"],
                                         env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if test_serve.call(self.url + "/readyz", timeout=1)[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("server did not become ready:\n" + self.log.read_text())

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=20)

    def sla_digest(self) -> str:
        return test_serve.call(self.url + "/v1/decisions/sla", SLA_BODY)[1]["ruleset"]["digest"]


@pytest.mark.e2e
def test_serve_with_two_workers_names_one_digest_after_each_edit(tmp_path):
    """A good edit loaded by the worker that answers a reload, then at once a broken edit: before, the
    other worker went from the old version straight to the broken edit and kept serving the old one."""
    server = TwoWorkers(tmp_path)
    try:
        _edit(server.rules, "2026.7")
        assert test_serve.call(server.url + "/v1/rulesets/reload", {})[0] == 200
        (server.rules / "sla.yaml").write_text(ORIGINAL + "\n  - broken: [\n", encoding="utf-8")
        assert test_serve.call(server.url + "/v1/rulesets/reload", {})[0] == 200
        time.sleep(3.5)  # every worker has polled since
        digests = [server.sla_digest() for _ in range(40)]
        statuses = [test_serve.call(server.url + "/v1/rulesets")[1]["rulesets"] for _ in range(10)]
    finally:
        server.stop()
    assert len(set(digests)) == 1, Counter(digests)
    sla = [{r["name"]: r for r in items}["sla"] for items in statuses]
    assert {(s["version"], s["status"]) for s in sla} == {("2026.7", "edit_rejected")}
    log = server.log.read_text()
    assert log.count("rule set sla: edit refused") == 1 and "Traceback" not in log


# ------------------------------------------------------------------------------ item 10


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_a_deleted_or_emptied_rules_folder_is_a_refused_change(tmp_path, how, caplog):
    rules = rules_copy(tmp_path)
    app = make_app(tmp_path, rules)
    client = app.test_client()
    digest = sla_status(client)["digest"]
    caplog.set_level(logging.INFO, logger="aftersales.rules")
    caplog.clear()
    if how == "deleted":
        shutil.rmtree(rules)
    else:
        for p in rules.glob("*.yaml"):
            p.unlink()
    r = client.post("/v1/rulesets/reload")
    assert r.status_code == 200 and r.get_json()["reloaded"] == {SOURCE: "rejected"}
    assert client.post("/v1/rulesets/reload").get_json()["reloaded"] == {}  # decided once
    listed = {x["name"]: x for x in client.get("/v1/rulesets").get_json()["rulesets"]}
    assert {"warranty", "scrap_pricing", "depreciation", "sla"} <= set(listed)  # before: all unloaded
    assert listed["sla"]["digest"] == digest
    assert listed[SOURCE]["status"] == "edit_rejected" and listed[SOURCE]["error"][0]["file"] == str(rules)
    assert client.post("/v1/decisions/sla", json=SLA_BODY).get_json()["ruleset"]["digest"] == digest
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["rules_source"]["status"] == "broken"
    warnings = [r for r in caplog.records if r.name == "aftersales.rules" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(rules) in warnings[0].getMessage()
    shutil.rmtree(rules, ignore_errors=True)
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("tests"), dirs_exist_ok=True)
    client.post("/v1/rulesets/reload")
    assert SOURCE not in {x["name"] for x in client.get("/v1/rulesets").get_json()["rulesets"]}
    assert client.get("/readyz").get_json()["rules_source"] == {"status": "ok"}


def test_start_up_without_a_rules_folder_is_not_ready_and_says_why(tmp_path):
    client = make_app(tmp_path, tmp_path / "nowhere").test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["rules_source"]["status"] == "broken"
    (item,) = client.get("/v1/rulesets").get_json()["rulesets"]
    assert item["name"] == SOURCE and item["status"] == "failed"
    assert "rules folder not found" in item["error"][0]["message"]
