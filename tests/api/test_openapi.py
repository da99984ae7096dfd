"""The OpenAPI document (api/openapi.py): every path of the decision API contract, each rule set's
case schema generated from its declared inputs, and the problem+json answers. The served document
(/openapi.json, /docs) is in test_api.py; schemathesis checks the service against it (tests/e2e)."""
import pytest

from api.openapi import build_openapi

# the endpoints of the contract (/work/shared/contract.md, "Endpoints"); /metrics (Prometheus text)
# and /openapi.json itself are served but not described in the document
CONTRACT = {
    "/v1/decisions/{ruleset}": "post",
    "/v1/decisions/{ruleset}/batch": "post",
    "/v1/decisions/{decision_id}": "get",
    "/v1/rulesets": "get",
    "/v1/rulesets/{name}": "get",
    "/healthz": "get",
    "/readyz": "get",
}
RULESETS = ("warranty", "scrap_pricing", "depreciation", "sla")


@pytest.fixture(scope="module")
def book(books):
    return books["python"]


@pytest.fixture(scope="module")
def doc(book):
    return build_openapi(book, security=True)


def schema_of(doc, ruleset):
    ref = doc["paths"][f"/v1/decisions/{ruleset}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    name = ref["properties"]["case"]["$ref"].rsplit("/", 1)[1]
    return doc["components"]["schemas"][name]


def test_every_path_of_the_contract_is_documented_for_each_rule_set(doc, book):
    assert set(book.rulesets) == set(RULESETS)
    for path, method in CONTRACT.items():
        for concrete in {path.replace("{ruleset}", name) for name in RULESETS}:
            assert method in doc["paths"].get(concrete, {}), f"{method.upper()} {concrete} is not in the document"
    assert doc["openapi"] == "3.0.3"


@pytest.mark.parametrize("ruleset", RULESETS)
def test_the_case_schema_is_generated_from_the_declared_inputs(doc, book, ruleset):
    inputs = book.get(ruleset).ruleset.inputs
    schema = schema_of(doc, ruleset)
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(inputs)
    assert set(schema.get("required", [])) == {n for n, i in inputs.items() if i.required}
    for name, declared in inputs.items():
        prop = schema["properties"][name]
        assert prop["title"] == (declared.title or name)
        if declared.type.kind == "enum":  # the allowed values, and null for "not given" unless required
            assert prop["enum"] == [*declared.type.values, *([] if declared.required else [None])]


def test_warranty_case_schema_says_what_the_contract_says(doc):
    schema = schema_of(doc, "warranty")
    item = schema["properties"]["item"]
    assert item["default"] == "main_unit" and item["enum"] == ["main_unit", "accessory", None]
    assert schema["properties"]["purchase_date"]["format"] == "date"
    money = schema["properties"]["price"]["oneOf"]  # money: a string with two decimals or a number
    assert {"type": "number", "multipleOf": 0.01} in money and any(s["type"] == "string" for s in money)


def test_errors_are_problem_json_with_their_statuses(doc):
    problem = doc["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status"}
    assert {"detail", "errors"} <= set(problem["properties"])
    decide = doc["paths"]["/v1/decisions/warranty"]["post"]["responses"]
    assert {"400", "401", "403", "413", "422"} <= set(decide)
    for status in ("400", "401", "403", "413", "422"):
        assert decide[status]["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "404" in doc["paths"]["/v1/decisions/{decision_id}"]["get"]["responses"]
    batch = doc["paths"]["/v1/decisions/warranty/batch"]["post"]["responses"]["200"]
    items = batch["content"]["application/json"]["schema"]["properties"]["results"]["items"]["oneOf"]
    assert {"$ref": "#/components/schemas/Problem"} in [i.get("properties", {}).get("error") for i in items]


def test_tokens_are_documented_only_when_the_service_asks_for_them(book, doc):
    assert doc["components"]["securitySchemes"] == {"token": {"type": "http", "scheme": "bearer"}}
    assert doc["paths"]["/v1/rulesets"]["get"]["security"] == [{"token": []}]
    open_doc = build_openapi(book, security=False)
    assert "securitySchemes" not in open_doc.get("components", {})
    assert open_doc["paths"]["/v1/rulesets"]["get"]["security"] == []
