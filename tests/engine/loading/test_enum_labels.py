"""Enum values with their Chinese labels in the rule file (issue 13): `values: {code: 标签}` gives each
code a label for people while the API keeps speaking codes; the older list form keeps loading (each
code its own label); a bad mapping is refused at its file:line."""
import json
from datetime import datetime

import pytest

from aftersales.cli import main
from engine.errors import CaseError
from engine.evaluation.case import read_case
from engine.rulebook import RuleBook
from engine.tooling.whynot import format_text, why_not
from engine.types import CHINA, Type

from tests.conftest import RULES
from tests.engine.loading.test_compiler import at, problems

DEMO = """\
ruleset: demo
version: "1"
inputs:
  request:
    type: enum
    values:
      repair: 修理
      return: 退货
    required: true
  channel: {type: enum, values: [onsite, workshop], default: onsite}
outputs:
  remedy:
    type: enum
    values: {repair: 修理, refund: 退款}
    default: repair
stages:
  - name: s
    rules:
      - {id: R1, title: 退货即退款, source: s § 1, when: "request == 'return'", then: {remedy: refund}}
"""


def _demo(tmp_path, text=DEMO):
    (tmp_path / "demo.yaml").write_text(text, encoding="utf-8")
    return RuleBook.load(tmp_path, backend="python").get("demo").ruleset


def test_a_mapping_gives_codes_their_labels_and_a_list_keeps_loading_with_each_code_its_own_label(tmp_path):
    rs = _demo(tmp_path)
    request = rs.inputs["request"].type
    assert request.values == ("repair", "return")  # what the API accepts and returns
    assert request.labels == (("repair", "修理"), ("return", "退货"))  # what people read, in declared order
    assert request.label("return") == "退货"
    assert rs.outputs["remedy"].type.labels == (("repair", "修理"), ("refund", "退款"))
    channel = rs.inputs["channel"].type
    assert channel.values == ("onsite", "workshop") and channel.label("workshop") == "workshop"


def test_labels_do_not_change_what_a_type_is():
    """Two enums with the same codes are one type (and Type stays hashable), whatever their labels."""
    a = Type("enum", values=("x", "y"), labels=(("x", "甲"), ("y", "乙")))
    b = Type("enum", values=("x", "y"))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1


def test_the_api_takes_and_returns_codes_and_a_bad_code_is_refused_with_every_code_and_its_label(tmp_path):
    rs = _demo(tmp_path)
    assert read_case(rs, {"request": "return"})["request"] == "return"
    with pytest.raises(CaseError) as e:
        read_case(rs, {"request": "退货"})  # a label is not a code
    assert e.value.errors == {"request": ["must be one of: repair（修理）, return（退货）"]}
    with pytest.raises(CaseError) as e:
        read_case(rs, {"request": "return", "channel": "post"})
    assert e.value.errors == {"channel": ["must be one of: onsite, workshop"]}  # no labels: the codes alone


def test_the_decision_api_answers_a_bad_enum_value_with_a_422_listing_codes_and_labels(tmp_path):
    from tests.api.test_api import make_app
    client = make_app(tmp_path).test_client()
    r = client.post("/v1/decisions/warranty", json={"case": {"product_line": "spaceship",
                                                              "purchase_date": "2026-03-10"}})
    assert r.status_code == 422
    message = r.get_json()["errors"]["case.product_line"][0]
    assert message.startswith("must be one of: electronics（电子产品（投影机等））, industrial（工业产品（泵））")
    assert message.endswith("household_car（家用汽车）")


@pytest.mark.parametrize("values, needle, message", [
    ("{repair: 修理, repair: 维修}", "repair: 维修", "duplicate key 'repair'"),
    ("[repair, return, repair]", "repair]", "request: the enum code 'repair' is given twice"),
    ("{repair: 修理, return: 7}", "return: 7", "request: the enum code 'return' needs a label, a text (not 7)"),
    ("{repair: 修理, return: }", "return: }", "request: the enum code 'return' needs a label, a text (not None)"),
    ("{repair: 修理, return: [退, 货]}", "return: [", "the enum code 'return' needs a label, a text (not ['退', '货'])"),
    ("{repair: 修理, 3: 退货}", "3: 退货", "request: the enum code 3 is not text (quote it)"),
    ("{repair: 修理, return: 修理}", "return: 修理", "request: the label '修理' of 'return' is also the label of 'repair'"),
    ("{repair: 修理, return: '" + "退" * 201 + "'}", "return: '", "the label of 'return' must be one line of at most 200"),
    ("{}", "values: {}", "request: an enum needs 'values'"),
    ("[]", "values: []", "request: an enum needs 'values'"),
    ("修理", "values: 修理", "request: an enum needs 'values'"),
])
def test_a_bad_values_mapping_is_refused_at_its_file_and_line(tmp_path, values, needle, message):
    text = DEMO.replace("    values:\n      repair: 修理\n      return: 退货\n", f"    values: {values}\n")
    assert text != DEMO
    found = problems(tmp_path, text)
    match = [p for p in found if message in p.message]
    assert match, [p.message for p in found]
    assert match[0].line == at(text, needle)[0]


def test_every_shipped_enum_value_has_a_label_of_its_own():
    """The four rule sets were migrated to the mapping form: every code has a label, and a code that
    is not already Chinese (the provinces are) has a label other than itself."""
    book = RuleBook.load(RULES, backend="python")
    assert sorted(book.rulesets) == ["depreciation", "scrap_pricing", "sla", "warranty"]
    enums = [(name, field, spec.type) for name, loaded in book.rulesets.items()
             for field, spec in [*loaded.ruleset.inputs.items(), *loaded.ruleset.outputs.items()]
             if spec.type.kind == "enum"]
    assert len(enums) == 35
    for name, field, t in enums:
        assert [c for c, _ in t.labels] == list(t.values), (name, field)
        for code, label in t.labels:
            assert label != code or not code.isascii(), f"{name}.{field}: {code} has no label"
    warranty = book.get("warranty").ruleset
    assert warranty.inputs["product_line"].type.label("electronics") == "电子产品（投影机等）"
    assert warranty.outputs["service_type"].type.label("paid_preferential") == "有偿优惠服务"


def test_the_why_not_text_names_enum_values_by_their_labels(books):
    warranty = books["python"].get("warranty").ruleset
    case = json.loads((RULES.parent / "examples" / "warranty" / "free_repair.json").read_text(encoding="utf-8"))
    w = why_not(warranty, case, datetime(2026, 11, 25, 10, tzinfo=CHINA), "W-103")
    assert w["labels"]["fault_cause"]["manufacturing"] == "制造质量"
    text = format_text(w)
    assert '= "manufacturing"（制造质量）' in text  # the value read, after the fact's name
    assert '= "electronics"（电子产品（投影机等））' in text
    w = why_not(warranty, case, datetime(2026, 11, 25, 10, tzinfo=CHINA), "W-423")
    assert '= "paid"（有偿服务）' in next(line for line in format_text(w).splitlines() if "sets:" in line)


def test_the_cli_eval_names_a_bad_enum_value_with_its_label(tmp_path, capsys):
    _demo(tmp_path)
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"request": "refund"}), encoding="utf-8")
    code = main(["eval", "demo", str(case), "--rules", str(tmp_path), "--engine", "python", "--as-of", "2026-01-01"])
    assert code == 2
    assert "request: must be one of: repair（修理）, return（退货）" in capsys.readouterr().err


def test_the_openapi_document_gives_each_enum_property_its_labels(tmp_path):
    from api.openapi import build_openapi
    doc = build_openapi(RuleBook.load(RULES, backend="python"), security=False)
    schemas = doc["components"]["schemas"]
    fault = schemas["WarrantyCase"]["properties"]["fault_cause"]
    assert fault["enum"][:2] == ["manufacturing", "misuse"]  # the contract's codes
    assert fault["x-enum-labels"]["misuse"] == "使用、维护、保管不当"
    assert "misuse（使用、维护、保管不当）" in fault["description"]
    remedy = schemas["WarrantyCaseDecision"]["properties"]["decision"]["properties"]["remedy"]
    assert remedy["x-enum-labels"] == {"repair": "修理", "exchange": "换货",
                                       "exchange_with_price_difference": "补差价换其他型号",
                                       "return": "退货", "guidance": "指导"}
    region = schemas["ScrapPricingCase"]["properties"]["region"]
    assert region["x-enum-labels"]["新疆"] == "新疆" and region["description"].startswith("Optional")
