"""Replay (issue 12, api/replay.py): a logged decision decided again with its own release and as_of
is identical, field by field; a stored response that was altered is caught and the field named; a
decision made before releases cannot be replayed and says why."""
import json
import shutil
import sqlite3
from datetime import datetime

import pytest

from api import create_app
from api.replay import Replayer
from api.settings import Settings, parse_tokens
from engine.rulebook import RuleBook
from engine.tooling.cases import valid_cases
from engine.types import CHINA
from tests.conftest import RULES

AUDIT, DECIDE = "aud-token-0123456789", "dee-token-0123456789"
DEPRECIATION = {"case": {"cost": "1234.57", "stock_in_date": "2026-01-15"}, "as_of": "2026-11-25", "explain": "full"}


@pytest.fixture
def app(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    tokens = parse_tokens(f"aud:{AUDIT}:audit,dee:{DECIDE}:decide")
    return create_app(Settings(rules_dir=rules, var_dir=tmp_path / "var", reload_interval=0, backend="python",
                               tokens=tokens), watch=False)


def decide(client, name, body) -> dict:
    r = client.post(f"/v1/decisions/{name}", json=body, headers={"Authorization": f"Bearer {DECIDE}"})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def replay(client, decision_id):
    return client.get(f"/v1/decisions/{decision_id}/replay", headers={"Authorization": f"Bearer {AUDIT}"})


def alter(tmp_path, decision_id, change) -> None:
    """Change a stored decision behind the service's back, as someone with the database file could."""
    with sqlite3.connect(tmp_path / "var" / "decisions.db") as db:
        (text,) = db.execute("SELECT response FROM decisions WHERE decision_id = ?", (decision_id,)).fetchone()
        response = json.loads(text)
        change(response)
        db.execute("UPDATE decisions SET response = ? WHERE decision_id = ?",
                   (json.dumps(response, ensure_ascii=False), decision_id))


def test_a_logged_decision_replays_identically(app):
    client = app.test_client()
    decided = decide(client, "depreciation", DEPRECIATION)
    r = replay(client, decided["decision_id"])
    assert r.status_code == 200
    assert r.get_json() == {"decision_id": decided["decision_id"], "release": "r1", "identical": True,
                            "differences": []}


def test_a_tampered_decision_is_not_identical_and_the_field_is_named(app, tmp_path):
    client = app.test_client()
    decided = decide(client, "depreciation", DEPRECIATION)
    book_value = decided["decision"]["book_value"]
    alter(tmp_path, decided["decision_id"], lambda resp: resp["decision"].update(book_value=9999.99))
    body = replay(client, decided["decision_id"]).get_json()
    assert body["identical"] is False
    assert body["differences"] == [{"field": "decision.book_value", "logged": "9999.99", "replayed": book_value}]


def test_a_missing_field_and_an_extra_one_are_named_by_side(app, tmp_path):
    client = app.test_client()
    decided = decide(client, "depreciation", DEPRECIATION)
    alter(tmp_path, decided["decision_id"], lambda resp: (resp.pop("warnings"), resp.update(note="added")))
    differences = replay(client, decided["decision_id"]).get_json()["differences"]
    assert differences == [{"field": "note", "logged": "added"}, {"field": "warnings", "replayed": []}]


def test_a_decision_made_before_releases_cannot_be_replayed(app, tmp_path):
    client = app.test_client()
    decided = decide(client, "depreciation", DEPRECIATION)
    with sqlite3.connect(tmp_path / "var" / "decisions.db") as db:
        db.execute("UPDATE decisions SET release = NULL WHERE decision_id = ?", (decided["decision_id"],))
    r = replay(client, decided["decision_id"])
    assert r.status_code == 409 and r.mimetype == "application/problem+json"
    assert r.get_json()["type"].endswith("/not-replayable") and "before releases" in r.get_json()["detail"]
    r = replay(client, "no-such-decision")
    assert r.status_code == 404 and r.get_json()["type"].endswith("/unknown-decision")
    r = client.get(f"/v1/decisions/{decided['decision_id']}/replay", headers={"Authorization": f"Bearer {DECIDE}"})
    assert r.status_code == 403


def test_replay_of_1000_logged_decisions_reports_no_difference_and_finds_one_tampered(app, tmp_path):
    client = app.test_client()
    book = RuleBook.load(RULES, backend="python")
    as_of = datetime(2026, 11, 25, 10, tzinfo=CHINA)
    for i, name in enumerate(("warranty", "scrap_pricing", "sla", "depreciation")):
        cases = [case for case, _ in valid_cases(book.get(name), 250, seed=12, as_of=as_of, rules_dir=RULES)]
        r = client.post(f"/v1/decisions/{name}/batch", headers={"Authorization": f"Bearer {DECIDE}"},
                        json={"cases": cases, "as_of": as_of.isoformat(), "explain": ("fired", "full")[i % 2]})
        assert all("decision_id" in item for item in r.get_json()["results"])
    svc = app.extensions["aftersales"]
    replayer = Replayer(svc.governance.store, "python")  # as `aftersales replay` uses it
    entries = list(svc.log.iter_entries())
    reports = [replayer.replay(entry) for entry in entries]
    assert len(reports) == 1000 and [r for r in reports if not r["identical"]] == []

    victim = entries[617]
    output = next(iter(victim["response"]["decision"]))
    alter(tmp_path, victim["decision_id"], lambda resp: resp["decision"].update({output: "tampered"}))
    changed = [r for r in map(replayer.replay, svc.log.iter_entries()) if not r["identical"]]
    assert [(r["decision_id"], [d["field"] for d in r["differences"]]) for r in changed] == \
        [(victim["decision_id"], [f"decision.{output}"])]
