"""The releases API (issue 12, api/releases.py): a release walks create → submit → approve (a second
person) → activate → rollback over HTTP, the service then decides with it and names it; the workflow's
refusals (maker-checker, failing rule tests, check findings without a reason, roles, bad files, a
scheduled start) reach the client as problem+json naming the cause."""
import shutil
import time

import pytest

from api import create_app
from api.settings import Settings, parse_tokens
from tests.conftest import RULES

TOKENS = {name: f"{name}-token-0123456789" for name in ("ann", "bob", "cat", "ada", "aud", "dee")}
ROLES = {"ann": "author", "bob": "approver", "cat": "author+approver", "ada": "admin", "aud": "audit",
         "dee": "decide"}
EVIDENCE_TIMEOUT_S = 120  # the shipped rules' evidence takes ~8 s on one free core; a shared machine is slower

TINY = """ruleset: tiny
title: Shipping
version: "1"
sources: [fixture]
inputs:
  amount: {type: money, min: 0, required: true, title: Order amount}
outputs:
  shipping:
    type: enum
    values: [free, paid]
stages:
  - name: shipping
    rules:
      - id: S-1
        title: Free shipping from 100
        source: fixture 1
        when: amount >= 100
        then: {shipping: free}
      - id: S-2
        title: Orders below 100 pay shipping
        source: fixture 2
        when: amount < 100
        then: {shipping: paid}
"""
TINY_TESTS = """ruleset: tiny
cases:
  - name: free from 100
    as_of: 2026-11-25
    case: {amount: "150.00"}
    expect:
      decision: {shipping: free}
      fired: [S-1]
  - name: small orders pay
    as_of: 2026-11-25
    case: {amount: "20.00"}
    expect:
      decision: {shipping: paid}
      fired: [S-2]
"""
GAPPED = TINY.replace("when: amount < 100", "when: amount < 50")  # 50 to 99.99: no rule sets shipping


def tiny(rules=TINY, tests=TINY_TESTS) -> dict:
    return {"tiny.yaml": rules, "tests/tiny/cases.yaml": tests}


@pytest.fixture
def app(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)  # with its rule tests: the imported release passes its own evidence
    tokens = parse_tokens(",".join(f"{n}:{TOKENS[n]}:{ROLES[n]}" for n in TOKENS))
    return create_app(Settings(rules_dir=rules, var_dir=tmp_path / "var", reload_interval=0, backend="python",
                               tokens=tokens), watch=False)


class Client:
    """The test client speaking as one token holder."""

    def __init__(self, app, name):
        self.client, self.headers = app.test_client(), {"Authorization": f"Bearer {TOKENS[name]}"}

    def get(self, path, body=None):
        assert body is None
        return self.client.get(path, headers=self.headers)

    def post(self, path, body=None):
        return self.client.post(path, headers=self.headers, **({"json": body} if body is not None else {}))


def as_(app, name) -> Client:
    return Client(app, name)


def evidence_done(app, rid) -> dict:
    deadline = time.monotonic() + EVIDENCE_TIMEOUT_S
    while time.monotonic() < deadline:
        release = as_(app, "aud").get(f"/v1/releases/{rid}").get_json()
        if release["evidence_state"] in ("done", "failed"):
            assert release["evidence_state"] == "done", release["evidence_progress"]
            return release
        time.sleep(0.2)
    pytest.fail(f"the evidence of {rid} was not done within {EVIDENCE_TIMEOUT_S} s")


def submitted(app, files, author="ann") -> str:
    """A release of `files` created and submitted by `author`, its evidence gathered."""
    r = as_(app, author).post("/v1/releases", {"message": "tiny shipping policy", "files": files})
    assert r.status_code == 201, r.get_json()
    rid = r.get_json()["id"]
    assert as_(app, author).post(f"/v1/releases/{rid}/submit").status_code == 202
    evidence_done(app, rid)
    return rid


def approved(app, files) -> str:
    rid = submitted(app, files)
    assert as_(app, "bob").post(f"/v1/releases/{rid}/approve").status_code == 200
    return rid


DEPRECIATION = {"case": {"cost": "1234.57", "stock_in_date": "2026-01-15"}, "as_of": "2026-11-25"}


def test_a_release_walks_from_draft_to_active_and_is_rolled_back(app):
    source = app.extensions["aftersales"].source
    first = as_(app, "dee").post("/v1/decisions/depreciation", DEPRECIATION).get_json()
    assert first["release"] == "r1" and first["ruleset"]["version"] == "2026.1"
    edited = (RULES / "depreciation.yaml").read_text(encoding="utf-8").replace('version: "2026.1"', 'version: "2026.2"')

    r = as_(app, "ann").post("/v1/releases", {"message": "depreciation 2026.2", "from": "r1",
                                              "changes": {"depreciation.yaml": edited}})
    assert r.status_code == 201
    release = r.get_json()
    rid = release["id"]
    assert (release["state"], release["parent"], release["author"]) == ("draft", "r1", "ann")
    files = as_(app, "aud").get(f"/v1/releases/{rid}/files").get_json()
    assert files["files"]["depreciation.yaml"] == edited and files["digest"] == release["digest"]
    assert "tests/warranty/remedies.yaml" in files["files"]  # the rest of r1 is kept
    changes = as_(app, "aud").get(f"/v1/releases/{rid}/diff").get_json()["changes"]
    assert {c["ruleset"] for c in changes} == {"depreciation"}
    text = as_(app, "aud").get(f"/v1/releases/{rid}/diff?format=text")
    assert text.mimetype == "text/plain" and "2026.2" in text.get_data(as_text=True)

    r = as_(app, "ann").post(f"/v1/releases/{rid}/submit")
    assert r.status_code == 202 and r.get_json()["state"] == "submitted"
    evidence = evidence_done(app, rid)["evidence"]
    assert evidence["ok_to_approve"] and evidence["impact"]["cases"] == 1  # the decision logged above
    r = as_(app, "bob").post(f"/v1/releases/{rid}/approve", {"reason": "checked the tables"})
    assert r.status_code == 200 and r.get_json()["state"] == "approved"
    assert as_(app, "dee").post("/v1/decisions/depreciation", DEPRECIATION).get_json()["release"] == "r1"

    r = as_(app, "bob").post(f"/v1/releases/{rid}/activate")
    assert r.status_code == 200 and r.get_json()["state"] == "active"
    assert as_(app, "aud").get("/v1/releases").get_json()["active"] == rid
    source.reload()
    decided = as_(app, "dee").post("/v1/decisions/depreciation", DEPRECIATION).get_json()
    assert (decided["release"], decided["ruleset"]["version"]) == (rid, "2026.2")

    r = as_(app, "bob").post("/v1/releases/rollback", {"reason": "wrong month count"})
    assert r.status_code == 200 and (r.get_json()["id"], r.get_json()["state"]) == ("r1", "active")
    rollback = [e for e in r.get_json()["events"] if e["action"] == "rollback"]
    assert [(e["actor"], e["reason"]) for e in rollback] == [("bob", "wrong month count")]
    assert as_(app, "aud").get(f"/v1/releases/{rid}").get_json()["state"] == "superseded"
    source.reload()
    decided = as_(app, "dee").post("/v1/decisions/depreciation", DEPRECIATION).get_json()
    assert (decided["release"], decided["ruleset"]["version"]) == ("r1", "2026.1")
    actions = [e["action"] for e in as_(app, "aud").get(f"/v1/releases/{rid}").get_json()["events"]]
    assert actions[:3] == ["created", "submitted", "evidence"] and actions[3:] == ["approved", "activate"]


def test_a_rollback_goes_back_one_release_at_a_time_and_only_to_one_that_was_active(app):
    r = as_(app, "bob").post("/v1/releases/rollback", {"reason": "nothing before r1"})
    assert r.status_code == 409 and r.get_json()["type"].endswith("/nothing-to-roll-back")
    second = submitted(app, tiny())
    assert as_(app, "bob").post(f"/v1/releases/{second}/approve").status_code == 200
    assert as_(app, "bob").post(f"/v1/releases/{second}/activate").get_json()["state"] == "active"
    never = submitted(app, tiny(rules=TINY.replace('version: "1"', 'version: "2"')))
    assert as_(app, "bob").post(f"/v1/releases/{never}/approve").status_code == 200

    r = as_(app, "bob").post("/v1/releases/rollback", {"to": never, "reason": "skip ahead"})
    assert r.status_code == 409 and "never active" in r.get_json()["detail"]
    r = as_(app, "ada").post("/v1/releases/rollback", {"reason": "shipping rule wrong, no approver reachable"})
    assert r.status_code == 200 and (r.get_json()["id"], r.get_json()["state"]) == ("r1", "active")
    assert r.get_json()["activations"][-1]["emergency"] is True  # an admin alone: recorded as an emergency
    r = as_(app, "bob").post("/v1/releases/rollback", {"reason": "the fix was right after all"})
    assert r.status_code == 200 and (r.get_json()["id"], r.get_json()["state"]) == (second, "active")
    assert r.get_json()["activations"][-1]["emergency"] is False
    listed = {x["id"]: x["state"] for x in as_(app, "aud").get("/v1/releases").get_json()["releases"]}
    assert (listed["r1"], listed[second], listed[never]) == ("superseded", "active", "approved")


def test_the_author_cannot_approve_their_own_release(app):
    rid = submitted(app, tiny(), author="cat")  # cat holds both roles: the person, not the token, is refused
    r = as_(app, "cat").post(f"/v1/releases/{rid}/approve", {"reason": "looks right to me"})
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
    assert r.get_json()["type"].endswith("/maker-checker") and "cat" in r.get_json()["detail"]
    assert as_(app, "bob").post(f"/v1/releases/{rid}/approve").get_json()["state"] == "approved"


def test_a_release_whose_rule_test_fails_cannot_be_approved(app):
    rid = submitted(app, tiny(tests=TINY_TESTS.replace("{shipping: paid}", "{shipping: free}")))
    release = as_(app, "aud").get(f"/v1/releases/{rid}").get_json()
    assert release["evidence"]["ok_to_approve"] is False and release["evidence"]["tests"]["failed"] == 1
    r = as_(app, "bob").post(f"/v1/releases/{rid}/approve", {"reason": "urgent"})
    assert r.status_code == 409 and r.get_json()["type"].endswith("/evidence-failed")
    assert as_(app, "aud").get(f"/v1/releases/{rid}").get_json()["state"] == "submitted"


def test_check_findings_are_approved_only_with_a_written_reason(app):
    rid = submitted(app, tiny(rules=GAPPED))
    evidence = as_(app, "aud").get(f"/v1/releases/{rid}").get_json()["evidence"]
    assert evidence["needs_reason"] and any(f["kind"] == "gap" for f in evidence["check"]["findings"])
    r = as_(app, "bob").post(f"/v1/releases/{rid}/approve")
    assert r.status_code == 422 and r.get_json()["type"].endswith("/reason-required")
    r = as_(app, "bob").post(f"/v1/releases/{rid}/approve", {"reason": "orders of 50 to 100 do not exist yet"})
    assert r.status_code == 200
    approved_event = [e for e in r.get_json()["events"] if e["action"] == "approved"]
    assert approved_event[0]["reason"] == "orders of 50 to 100 do not exist yet"


def test_each_endpoint_asks_for_its_role(app):
    for who, method, path, body in [("dee", "get", "/v1/releases", None), ("dee", "get", "/v1/releases/r1", None),
                                    ("dee", "get", "/v1/releases/r1/files", None),
                                    ("bob", "post", "/v1/releases", {"message": "m", "files": tiny()}),
                                    ("ann", "post", "/v1/releases/r1/approve", None),
                                    ("ann", "post", "/v1/releases/rollback", {"reason": "r"}),
                                    ("ann", "post", "/v1/releases/r1/activate", None),
                                    ("bob", "post", "/v1/releases/r1/submit", None),
                                    ("bob", "get", "/v1/decisions/x/replay", None)]:
        r = getattr(as_(app, who), method)(path, body)
        assert r.status_code == 403 and r.get_json()["type"].endswith("/forbidden"), (who, path, r.get_json())
    for who in ("aud", "ann", "bob", "ada"):
        assert as_(app, who).get("/v1/releases").get_json()["active"] == "r1"
    assert app.test_client().get("/v1/releases").status_code == 401
    rid = approved(app, tiny())
    r = as_(app, "ada").post(f"/v1/releases/{rid}/activate")  # an admin may activate (and roll back)
    assert r.status_code == 200 and r.get_json()["state"] == "active"


def test_open_mode_lets_the_local_caller_do_everything_but_approve_their_own_release(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    app = create_app(Settings(rules_dir=rules, var_dir=tmp_path / "var", reload_interval=0, backend="python"),
                     watch=False)
    client = app.test_client()
    r = client.post("/v1/releases", json={"message": "tiny", "files": tiny()})
    assert r.status_code == 201 and r.get_json()["author"] == "local"
    rid = r.get_json()["id"]
    assert client.post(f"/v1/releases/{rid}/submit").status_code == 202
    evidence_done(app, rid)
    assert client.post(f"/v1/releases/{rid}/approve").get_json()["type"].endswith("/maker-checker")


def test_bad_files_are_refused_naming_each_file(app):
    ann = as_(app, "ann")
    r = ann.post("/v1/releases", {"message": "m", "files": {"../warranty.yaml": "x", "sla.yaml": 3,
                                                            "tiny.yaml": TINY}})
    assert r.status_code == 422 and r.get_json()["type"].endswith("/invalid-files")
    assert set(r.get_json()["errors"]) == {"../warranty.yaml", "sla.yaml"}
    assert r.get_json()["errors"]["sla.yaml"] == ["the content must be text"]
    r = ann.post("/v1/releases", {"message": "m", "from": "r1", "changes": {"nothere.yaml": None}})
    assert r.status_code == 422 and r.get_json()["errors"] == {"nothere.yaml": ["not a file of release r1"]}
    r = ann.post("/v1/releases", {"message": "m", "from": "r1", "changes": {"warranty.yaml": None, "sla.yaml": None,
                                                                            "scrap_pricing.yaml": None,
                                                                            "depreciation.yaml": None}})
    assert r.status_code == 422 and "files" in r.get_json()["errors"]  # nothing left to decide with
    r = ann.post("/v1/releases", {"message": "m", "from": "r99", "changes": {}})
    assert r.status_code == 404 and r.get_json()["type"].endswith("/unknown-release")
    r = ann.post("/v1/releases", {"message": "m", "files": tiny(), "colour": "red"})
    assert r.status_code == 422 and "colour" in r.get_json()["errors"]
    r = ann.post("/v1/releases", {"message": "m", "changes": {}})
    assert r.status_code == 422 and "from" in r.get_json()["errors"]
    r = ann.post("/v1/releases", {"files": tiny()})
    assert r.status_code == 422 and "message" in r.get_json()["errors"]
    assert as_(app, "aud").get("/v1/releases").get_json()["releases"][0]["id"] == "r1"  # nothing was created


def test_a_scheduled_activation_leaves_the_old_release_active_until_then(app):
    rid = approved(app, tiny())
    bob = as_(app, "bob")
    r = bob.post(f"/v1/releases/{rid}/activate", {"at": "2099-13-01T10:00:00"})
    assert r.status_code == 422 and set(r.get_json()["errors"]) == {"at"}
    r = bob.post(f"/v1/releases/{rid}/activate", {"at": "2099-01-01T10:00:00", "reason": "new year"})
    assert r.status_code == 200
    assert (r.get_json()["state"], r.get_json()["scheduled_at"]) == ("scheduled", "2099-01-01T02:00:00+00:00")
    assert as_(app, "aud").get("/v1/releases").get_json()["active"] == "r1"
    app.extensions["aftersales"].source.reload()
    assert as_(app, "dee").post("/v1/decisions/depreciation", DEPRECIATION).get_json()["release"] == "r1"
    assert as_(app, "dee").post("/v1/decisions/tiny", {"case": {"amount": "20.00"}}).status_code == 404


def test_reject_needs_a_reason_and_ends_the_release(app):
    rid = submitted(app, tiny())
    r = as_(app, "bob").post(f"/v1/releases/{rid}/reject", {})
    assert r.status_code == 422 and set(r.get_json()["errors"]) == {"reason"}
    r = as_(app, "bob").post(f"/v1/releases/{rid}/reject", {"reason": "not this quarter"})
    assert r.status_code == 200 and r.get_json()["state"] == "rejected"
    r = as_(app, "bob").post(f"/v1/releases/{rid}/approve")
    assert r.status_code == 409 and r.get_json()["type"].endswith("/wrong-state")


def test_every_release_route_is_in_the_served_openapi_document(app):
    doc = app.test_client().get("/openapi.json").get_json()
    routes = {(str(rule).replace("<rid>", "{id}").replace("<decision_id>", "{decision_id}"), method.lower())
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("releases.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert len(routes) == 11
    for path, method in routes:
        assert method in doc["paths"].get(path, {}), f"{method.upper()} {path} is not documented"
        assert "403" in doc["paths"][path][method]["responses"]
    assert app.test_client().get("/docs").status_code == 200
