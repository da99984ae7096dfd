"""The HTTP layer through Flask's test client: every endpoint and error status of the contract."""
import json
import shutil

import pytest

from api import create_app
from api.settings import Settings, Token

from tests.conftest import RULES

WARRANTY_CASE = {"product_line": "electronics", "purchase_date": "2026-03-10", "fault_cause": "manufacturing",
                 "request": "repair"}
DECIDE, AUDIT, ADMIN = "decide-token-0123456789", "audit-token-0123456789", "admin-token-0123456789"


def make_app(tmp_path, tokens=None, database_url=None, **overrides):
    rules = tmp_path / "rules"
    if not rules.exists():
        shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("tests"))
    settings = Settings(rules_dir=rules, var_dir=tmp_path / "var", tokens=tokens or {}, reload_interval=0, development=True,
                        database_url=database_url, **overrides)
    return create_app(settings, watch=False)


@pytest.fixture
def client(tmp_path, db_url):
    """The app on each decision-log database (SQLite, and PostgreSQL under `make test`)."""
    return make_app(tmp_path, database_url=db_url).test_client()


@pytest.fixture
def secured(tmp_path, db_url):
    tokens = {DECIDE: Token("ticketing", frozenset({"decide"})), AUDIT: Token("auditor", frozenset({"audit"})),
              ADMIN: Token("ops", frozenset({"admin"}))}
    return make_app(tmp_path, tokens, database_url=db_url).test_client()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_a_warranty_decision_with_fired_rules_and_its_log_entry(client):
    r = client.post("/v1/decisions/warranty", json={"case": WARRANTY_CASE, "as_of": "2026-11-25"})
    assert r.status_code == 200, r.get_data(as_text=True)
    d = r.get_json()
    assert d["decision"]["service_type"] == "free" and d["decision"]["in_warranty"] is True
    assert d["ruleset"]["name"] == "warranty" and d["ruleset"]["digest"].startswith("sha256:")
    assert d["as_of"] == "2026-11-25T00:00:00+08:00"
    assert all({"id", "title", "source", "sets", "values"} <= set(f) for f in d["fired"])
    stored = client.get(f"/v1/decisions/{d['decision_id']}")
    assert stored.status_code == 200 and stored.get_json() == d


def test_explain_full_adds_not_fired(client):
    d = client.post("/v1/decisions/warranty", json={"case": WARRANTY_CASE, "as_of": "2026-11-25",
                                                    "explain": "full"}).get_json()
    assert d["not_fired"] and all("failed" in n for n in d["not_fired"])


def test_batch_keeps_order_and_a_bad_case_is_an_error_item(client):
    cases = [WARRANTY_CASE, {"product_line": "electronics"}, dict(WARRANTY_CASE, fault_cause="misuse")]
    r = client.post("/v1/decisions/warranty/batch", json={"cases": cases, "as_of": "2026-11-25"})
    assert r.status_code == 200
    results = r.get_json()["results"]
    assert results[0]["decision"]["service_type"] == "free"
    assert results[1]["error"]["status"] == 422 and "case.purchase_date" in results[1]["error"]["errors"]
    assert results[2]["decision"]["service_type"] == "paid_preferential"
    listed = client.get("/v1/decisions?ruleset=warranty").get_json()["items"]
    assert {i["decision_id"] for i in listed} == {results[0]["decision_id"], results[2]["decision_id"]}


@pytest.mark.parametrize("body, status, field", [
    ({"case": {"product_line": "electronics", "purchase_date": "2026-03-10", "colour": "red"}}, 422, "case.colour"),
    ({"case": {"product_line": "electronics", "purchase_date": 20260310}}, 422, "case.purchase_date"),
    ({"case": {"product_line": "toaster", "purchase_date": "2026-03-10"}}, 422, "case.product_line"),
    ({"case": {"product_line": "electronics"}}, 422, "case.purchase_date"),
    ({"case": WARRANTY_CASE, "as_of": "2026-13-40"}, 422, "as_of"),
    ({"case": WARRANTY_CASE, "explain": "everything"}, 422, "explain"),
    ({"case": WARRANTY_CASE, "extra": 1}, 422, "extra"),
])
def test_invalid_requests_name_the_field(client, body, status, field):
    r = client.post("/v1/decisions/warranty", json=body)
    assert r.status_code == status
    assert r.mimetype == "application/problem+json"
    assert field in r.get_json()["errors"]


def test_scrap_case_errors_negative_weight_and_empty_prices(client):
    r = client.post("/v1/decisions/scrap_pricing", json={"case": {"weight_t": -1, "market_prices_per_t": []}})
    errors = r.get_json()["errors"]
    assert r.status_code == 422 and {"case.weight_t", "case.market_prices_per_t"} <= set(errors)


def test_text_a_database_cannot_hold_is_rejected_before_deciding(client):
    case = dict(WARRANTY_CASE, product_category="fan\u0000")
    r = client.post("/v1/decisions/warranty", json={"case": case})
    assert r.status_code == 422 and r.mimetype == "application/problem+json"


def test_a_bad_cursor_is_a_400(client):
    assert client.get("/v1/decisions?cursor=not-a-cursor").status_code == 400


def test_database_down_is_a_503_and_not_ready(tmp_path):
    client = make_app(tmp_path, database_url="postgresql://u:p@127.0.0.1:9/none?connect_timeout=1").test_client()
    r = client.post("/v1/decisions/warranty", json={"case": WARRANTY_CASE, "as_of": "2026-11-25"})
    assert r.status_code == 503 and r.mimetype == "application/problem+json"
    assert client.get("/readyz").status_code == 503


def test_malformed_json_wrong_content_type_unknown_ruleset_and_decision(client):
    r = client.post("/v1/decisions/warranty", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    r = client.post("/v1/decisions/warranty", data="case=1", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415
    assert client.post("/v1/decisions/nope", json={"case": {}}).status_code == 404
    assert client.get("/v1/decisions/does-not-exist").status_code == 404
    r = client.get("/no/such/page")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"


def test_body_and_batch_limits(tmp_path):
    client = make_app(tmp_path, max_body_bytes=10_000, max_batch=5).test_client()
    big = json.dumps({"case": WARRANTY_CASE, "pad": "x" * 20_000})
    r = client.post("/v1/decisions/warranty", data=big, content_type="application/json")
    assert r.status_code == 413 and r.mimetype == "application/problem+json"
    r = client.post("/v1/decisions/warranty/batch", json={"cases": [WARRANTY_CASE] * 6})
    assert r.status_code == 413
    assert client.get("/v1/decisions").get_json()["items"] == []  # nothing decided, nothing logged


def test_tokens_and_roles(secured):
    body = {"case": WARRANTY_CASE, "as_of": "2026-11-25"}
    assert secured.post("/v1/decisions/warranty", json=body).status_code == 401
    assert secured.post("/v1/decisions/warranty", json=body, headers=bearer("wrong-token-0000000000")).status_code == 401
    assert secured.post("/v1/decisions/warranty", json=body, headers=bearer(AUDIT)).status_code == 403
    r = secured.post("/v1/decisions/warranty", json=body, headers=bearer(DECIDE))
    assert r.status_code == 200
    did = r.get_json()["decision_id"]
    assert secured.get(f"/v1/decisions/{did}", headers=bearer(DECIDE)).status_code == 403
    assert secured.get(f"/v1/decisions/{did}", headers=bearer(AUDIT)).status_code == 200
    listed = secured.get("/v1/decisions", headers=bearer(AUDIT)).get_json()["items"]
    assert listed[0]["caller"] == "ticketing"
    assert secured.post("/v1/rulesets/reload", headers=bearer(DECIDE)).status_code == 403
    assert secured.post("/v1/rulesets/reload", headers=bearer(ADMIN)).status_code == 200


def test_pii_is_masked_in_the_log_not_in_the_answer(tmp_path, db_url):
    app = make_app(tmp_path, database_url=db_url)
    rules = tmp_path / "rules"
    text = (rules / "depreciation.yaml").read_text(encoding="utf-8")
    text = text.replace("inputs:\n", "inputs:\n  keeper_phone: {type: string, title: 保管人电话, pii: true}\n", 1)
    (rules / "depreciation.yaml").write_text(text, encoding="utf-8")
    app.extensions["aftersales"].source.reload()
    client = app.test_client()
    case = {"cost": "1000.00", "stock_in_date": "2026-01-31", "keeper_phone": "13800138000"}
    r = client.post("/v1/decisions/depreciation", json={"case": case, "as_of": "2026-11-25"})
    assert r.status_code == 200, r.get_data(as_text=True)
    item = client.get("/v1/decisions?ruleset=depreciation").get_json()["items"][0]
    assert item["case"]["keeper_phone"] == "***" and item["case"]["cost"] == "1000.00"
    assert "13800138000" not in json.dumps(item, ensure_ascii=False)


def test_rulesets_listing_and_detail(client):
    listed = client.get("/v1/rulesets").get_json()["rulesets"]
    names = {r["name"]: r for r in listed}
    assert {"warranty", "scrap_pricing", "depreciation", "sla"} <= set(names)
    assert names["warranty"]["status"] == "ok" and names["warranty"]["digest"].startswith("sha256:")
    detail = client.get("/v1/rulesets/warranty").get_json()
    assert "electronics" in detail["inputs"]["product_line"]["values"]
    assert detail["rules"] and all(r["source"] for r in detail["rules"])
    assert client.get("/v1/rulesets/nope").status_code == 404


def test_a_broken_edit_is_refused_and_the_previous_version_serves(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    before = client.get("/v1/rulesets").get_json()["rulesets"]
    digest = next(r["digest"] for r in before if r["name"] == "sla")
    path = tmp_path / "rules" / "sla.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\nstages_typo: [\n", encoding="utf-8")
    r = client.post("/v1/rulesets/reload").get_json()
    assert r["reloaded"]["sla"] == "rejected"
    sla = next(x for x in r["rulesets"] if x["name"] == "sla")
    assert sla["status"] == "edit_rejected" and sla["digest"] == digest
    assert sla["error"][0]["file"].endswith("sla.yaml") and sla["error"][0]["line"] > 1
    d = client.post("/v1/decisions/sla", json={"case": {"kind": "repair", "requested_at": "2026-11-23T09:00:00+08:00"},
                                               "as_of": "2026-11-23T10:00:00+08:00"}).get_json()
    assert d["ruleset"]["digest"] == digest


def test_a_good_edit_is_swapped_in_and_named_by_its_digest(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    path = tmp_path / "rules" / "depreciation.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('version: "2026.1"', 'version: "2026.2"'), encoding="utf-8")
    assert client.post("/v1/rulesets/reload").get_json()["reloaded"]["depreciation"] == "reloaded"
    d = client.post("/v1/decisions/depreciation", json={"case": {"cost": "100.00", "stock_in_date": "2026-01-01"},
                                                        "as_of": "2026-11-25"}).get_json()
    assert d["ruleset"]["version"] == "2026.2"


def test_health_readiness_metrics_openapi_docs(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["database_reachable"] is True
    client.post("/v1/decisions/warranty", json={"case": WARRANTY_CASE, "as_of": "2026-11-25"})
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'aftersales_decisions_total{outcome=' in metrics and "aftersales_decision_seconds_bucket" in metrics
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.") and "/v1/decisions/warranty" in doc["paths"]
    case = doc["components"]["schemas"]["WarrantyCase"]
    assert "national_sanbao" in case["properties"]["product_line"]["enum"]
    assert case["additionalProperties"] is False and "purchase_date" in case["required"]
    page = client.get("/docs")
    assert page.status_code == 200 and "purchase_date" in page.get_data(as_text=True)


def test_jsonl_export_replays(client):
    for day in ("2026-11-01", "2026-11-02"):
        client.post("/v1/decisions/warranty", json={"case": WARRANTY_CASE, "as_of": day})
    r = client.get("/v1/decisions?ruleset=warranty&format=jsonl")
    lines = [json.loads(x) for x in r.get_data(as_text=True).splitlines()]
    assert r.mimetype == "application/x-ndjson" and len(lines) == 2
    assert {x["as_of"] for x in lines} == {"2026-11-01T00:00:00+08:00", "2026-11-02T00:00:00+08:00"}
    assert all(x["case"] == WARRANTY_CASE for x in lines)


def test_a_rule_set_description_gives_each_enum_value_its_label(client):
    inputs = client.get("/v1/rulesets/warranty").get_json()["inputs"]
    assert inputs["request"]["values"][:2] == ["repair", "exchange"]
    assert inputs["request"]["labels"]["repair"] == "修理" and inputs["request"]["labels"]["exchange"] == "换货"


def test_a_refused_rule_file_is_explained_in_the_language_the_client_asks_for(tmp_path):
    app = make_app(tmp_path)
    with open(tmp_path / "rules" / "sla.yaml", "a", encoding="utf-8") as f:
        f.write("ruleset: sla\n  bad: [\n")
    app.extensions["aftersales"].source.reload()
    client = app.test_client()

    def sla_error(language):
        rulesets = client.get("/v1/rulesets", headers={"Accept-Language": language}).get_json()["rulesets"]
        return next(r for r in rulesets if r["name"] == "sla")["error"][0]["message"]

    assert sla_error("en-US,en;q=0.9").startswith("YAML syntax: mapping values are not allowed here")
    chinese = sla_error("zh-CN,zh;q=0.9,en;q=0.8")
    assert chinese.startswith("YAML 语法：") and "mapping" not in chinese
