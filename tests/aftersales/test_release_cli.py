"""`aftersales release …` against a real HTTP service (api/releases.py, served by werkzeug on a loopback
port), and `aftersales replay` on the decision log that service wrote (aftersales/release.py,
aftersales/replay.py). The workflow's rules themselves are tested in tests/api/test_releases_api.py."""
import shutil
import sqlite3
import threading

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from aftersales.cli import main
from api import create_app
from api.settings import Settings, parse_tokens
from releases.snapshot import read_folder

from tests.conftest import RULES
from tests.ports import loopback_port

ANN, BOB, DEE = "ann-token-0123456789", "bob-token-0123456789", "dee-token-0123456789"
TOKENS = f"ann:{ANN}:author,bob:{BOB}:approver+audit,dee:{DEE}:decide"
TITLE = "累计计提折旧的最高月数"
SLA_CASE = {"kind": "repair", "requested_at": "2026-11-23T09:00:00+08:00"}


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args):  # the app keeps its own access log; stderr is the CLI's here
        pass


@pytest.fixture
def service(tmp_path):
    """The service on a loopback port: (its URL, the Flask app); rules/ imported as release r1."""
    shutil.copytree(RULES, tmp_path / "rules")
    settings = Settings(rules_dir=tmp_path / "rules", var_dir=tmp_path / "var", reload_interval=0, backend="python",
                        tokens=parse_tokens(TOKENS))
    app = create_app(settings, watch=False)
    server = make_server("127.0.0.1", loopback_port(), app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=10)


def run(capsys, url, token, *args):
    """(exit code, standard output, standard error) of `aftersales release --url … --token … ARGS`."""
    code = main(["release", "--url", url, "--token", token, *args])
    out, err = capsys.readouterr()
    return code, out, err


def edited_rules(tmp_path):
    """A copy of rules/ with one edit: a parameter's title (the rule tests still pass)."""
    folder = tmp_path / "edit"
    shutil.copytree(RULES, folder)
    path = folder / "depreciation.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  max_depreciated_months:\n")
    end = text.index("    title: ", start)
    line_end = text.index("\n", end)
    path.write_text(f"{text[:end]}    title: {TITLE}{text[line_end:]}", encoding="utf-8")
    return folder


@pytest.mark.e2e  # about 15 s: the evidence runs every rule test of the shipped rules
def test_a_release_walks_from_a_folder_to_active_and_back(service, tmp_path, capsys):
    url, _ = service
    edit = edited_rules(tmp_path)

    code, out, _ = run(capsys, url, ANN, "create", str(edit), "-m", "depreciation: clearer title\nsecond line")
    assert code == 0 and out.startswith("r2  draft  sha256:")

    code, out, _ = run(capsys, url, ANN, "list")
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["id", "state", "author", "created", "message"]
    assert rows[1][:3] == ["r2", "draft", "ann"] and rows[1][-3:] == ["depreciation:", "clearer", "title"]
    assert "second line" not in out  # the message's first line only
    assert rows[2][:3] == ["*", "r1", "active"]

    code, out, _ = run(capsys, url, ANN, "diff", "r1", "r2")
    assert code == 0 and "max_depreciated_months" in out and TITLE in out
    assert "1 changes" in out.splitlines()[-1]

    code, out, err = run(capsys, url, ANN, "submit", "r2", "--wait")
    assert code == 0, err
    assert "r2  submitted  evidence done" in out
    assert "load: ok" in out and " 0 failed; rules fired 100%" in out
    assert "impact: 0 logged decisions compared, 0 changed" in out and "can be approved" in out

    code, _, err = run(capsys, url, ANN, "approve", "r2")  # the service refuses; the CLI says why
    assert code == 1 and "403 Forbidden: this token lacks the role 'approver'" in err
    code, out, err = run(capsys, url, BOB, "approve", "r2", "--reason", "read it")
    assert code == 0 and out == "r2  approved\n", err

    code, _, err = run(capsys, url, BOB, "activate", "r2", "--at", "next tuesday")
    assert code == 2 and "422 Invalid request: at is not a date-time" in err and "\n  at: " in err
    code, out, err = run(capsys, url, BOB, "activate", "r2", "--reason", "go")
    assert code == 0 and out == "r2  active\n", err

    code, out, _ = run(capsys, url, BOB, "show", "r2")
    assert out.startswith("release r2  active\n")
    assert "message  depreciation: clearer title\n         second line\n" in out
    assert "  depreciation         2026.1       sha256:" in out
    assert "tests: " in out and "can be approved" in out
    events = [line.split()[2:] for line in out[out.index("events\n"):].splitlines()[1:]]
    assert events == [["ann", "created:", "depreciation:", "clearer", "title", "…"], ["ann", "submitted"],
                      ["service", "evidence"], ["bob", "approved:", "read", "it"], ["bob", "activate:", "go"]]

    code, out, _ = run(capsys, url, BOB, "export", "r2", str(tmp_path / "out"))
    assert code == 0 and "to " + str(tmp_path / "out") in out
    assert read_folder(tmp_path / "out").files == read_folder(edit).files

    code, out, err = run(capsys, url, BOB, "rollback", "--reason", "title unclear after all")
    assert code == 0 and out == "r1  active\n", err
    code, out, _ = run(capsys, url, BOB, "list")
    assert [line.split()[:3] for line in out.splitlines()[1:]] == [["r2", "superseded", "ann"], ["*", "r1", "active"]]


def test_errors_are_said_plainly_with_their_exit_code(service, tmp_path, capsys):
    url, _ = service
    code, out, err = run(capsys, url, BOB, "show", "r99")
    assert (code, out) == (1, "") and "404 Not Found: no release 'r99'\n" in err

    code, _, err = run(capsys, url, DEE, "list")  # a decide-only token
    assert code == 1 and "403 Forbidden" in err

    code, _, err = run(capsys, url, ANN, "create", str(edited_rules(tmp_path)), "-m", " ")
    assert code == 2 and "422" in err and "message is required" in err

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "sla.yaml").write_bytes(b"name: sla\ntitle: \xff\n")
    code, _, err = run(capsys, url, ANN, "create", str(bad), "-m", "broken")
    assert code == 3 and f"{bad / 'sla.yaml'}:2:" in err

    down = f"http://127.0.0.1:{loopback_port()}"
    code, out, err = run(capsys, down, ANN, "list")
    assert (code, out) == (1, "") and f"cannot reach the service at {down}: connection refused" in err


def test_replay_re_decides_the_logged_decisions_and_reports_a_tampered_one(service, tmp_path, capsys, monkeypatch):
    _, app = service
    client = app.test_client()
    ids = []
    for day in ("2026-11-23", "2026-11-24", "2026-11-25"):
        r = client.post("/v1/decisions/sla", json={"case": SLA_CASE, "as_of": f"{day}T10:00:00+08:00"},
                        headers={"Authorization": f"Bearer {DEE}"})
        assert r.status_code == 200 and r.get_json()["release"] == "r1"
        ids.append(r.get_json()["decision_id"])
    monkeypatch.setenv("AFTERSALES_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("AFTERSALES_ENGINE", "python")
    monkeypatch.delenv("AFTERSALES_DATABASE_URL", raising=False)

    assert main(["replay"]) == 0
    assert capsys.readouterr().out == "replayed 3 decisions: 3 identical, 0 different, 0 not replayable " \
                                      "(decided before releases)\n"

    with sqlite3.connect(tmp_path / "var" / "decisions.db") as db:
        db.execute("UPDATE decisions SET release = NULL WHERE decision_id = ?", (ids[1],))
        db.execute("UPDATE decisions SET response = json_set(response, '$.decision.response_status', 'overdue') "
                   "WHERE decision_id = ?", (ids[0],))  # it was pending, an hour after the request
    assert main(["replay"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "replayed 2 decisions: 1 identical, 1 different, 1 not replayable (decided before releases)"
    assert out[1:] == [f'{ids[0]} (r1) decision.response_status: "overdue" → "pending"']
