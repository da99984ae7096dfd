"""`aftersales explain <ruleset> <case> --why-not <RULE>`: each part of the rule's condition
with its value on the case and the facts it read; in force or not; fired, overridden, or
behind an earlier table row."""
import json
from datetime import datetime

import pytest

from aftersales.cli import main
from engine.rulebook import RuleBook
from engine.types import CHINA
from engine.tooling.whynot import UnknownRule, why_not

from tests.conftest import FLAWED, ROOT, RULES

AS_OF = datetime(2026, 11, 25, 10, tzinfo=CHINA)


@pytest.fixture(scope="module")
def warranty(books):
    return books["python"].get("warranty").ruleset


@pytest.fixture(scope="module")
def flawed():
    return RuleBook.load(FLAWED, backend="python").get("flawed").ruleset


def _leaves(node):
    return [node] if node["kind"] == "test" else [x for i in node["items"] for x in _leaves(i)]


def _case(name):
    return json.loads((ROOT / "examples" / "warranty" / name).read_text(encoding="utf-8"))


def test_a_false_condition_part_by_part(warranty):
    w = why_not(warranty, _case("free_repair.json"), AS_OF, "W-423")
    assert w["in_force"] is True and w["fired"] is False
    assert w["condition"]["value"] == "false"
    leaves = {n["text"]: n for n in _leaves(w["condition"])}
    assert leaves["in_warranty"]["value"] == "true" and leaves["in_warranty"]["facts"] == {"in_warranty": True}
    assert leaves["not covered"]["value"] == "false" and leaves["not covered"]["facts"] == {"covered": True}
    assert leaves["not covered"]["decided_by"] == {"covered": ["W-101"]}  # the earlier stage's rule
    assert w["verdict"] == "did not fire: `not covered` is false"


def test_derived_facts_are_shown_with_their_definition(warranty):
    w = why_not(warranty, _case("paid_onsite_visit.json"), AS_OF, "W-101")
    assert w["verdict"] == "did not fire: `within_period` is false"
    d = w["derived"]["within_period"]
    assert d["text"].startswith("today <= warranty_ends_on")
    assert d["facts"]["warranty_ends_on"] == "2024-06-01" and d["facts"]["today"] == "2026-11-25"


def test_unknown_because_a_fact_is_missing(flawed):
    w = why_not(flawed, {"amount": "10.00"}, AS_OF, "L-1")
    (leaf,) = _leaves(w["condition"])
    assert leaf["value"] == "unknown" and leaf["missing"] == ["member_since"]
    assert w["verdict"] == "did not fire: its condition is unknown (missing: member_since)"


def test_not_in_force_on_the_effective_date(flawed):
    w = why_not(flawed, {"amount": "10.00", "member_since": "2010-01-01"}, datetime(2019, 6, 1, tzinfo=CHINA), "L-1")
    assert w["condition"]["value"] == "true" and w["in_force"] is False and w["fired"] is False
    assert w["verdict"] == "not in force on the effective date 2019-06-01 (in force 2020-01-01 to …)"


def test_fired_but_overridden(flawed):
    w = why_not(flawed, {"amount": "10.00", "tier": "gold", "express": True}, AS_OF, "D-2")
    assert w["fired"] is True
    assert w["overridden"] == [{"output": "discount", "value": "0.00", "by": "D-1", "by_priority": 0,
                                "by_value": "5.00"}]
    assert "overridden: discount went to D-1 (priority 0, '5.00')" in w["verdict"]
    w = why_not(flawed, {"amount": "10.00", "tier": "gold"}, AS_OF, "D-1")
    assert w["fired"] is True and w["overridden"] == [] and w["verdict"] == "fired and decided discount"


def test_a_table_row_behind_the_row_that_matched(books):
    rs = books["python"].get("scrap_pricing").ruleset
    w = why_not(rs, {"weight_t": 1, "market_prices_per_t": ["2000"], "original_value": "60000.00"}, AS_OF, "SP-AP.2")
    assert w["condition"]["value"] == "true" and w["fired"] is False and w["first_hit_by"] == "SP-AP.1"
    assert "an earlier row of table SP-AP matched first (SP-AP.1)" in w["verdict"]


def test_nested_any_and_not(warranty):
    case = {"product_line": "national_sanbao", "product_category": "fridge", "purchase_date": "2026-10-01",
            "fault_cause": "manufacturing", "opened_by_third_party": True}
    w = why_not(warranty, case, AS_OF, "W-N-111")
    assert w["fired"] is True
    anyof = w["condition"]["items"][1]
    assert anyof["kind"] == "any" and anyof["value"] == "true"
    values = {n["text"]: n["value"] for n in anyof["items"]}
    assert values["opened_by_third_party"] == "true" and values["card_mismatch"] == "false"
    assert values["not has_invoice"] == "false"
    assert anyof["items"][0]["facts"] == {"fault_cause": "manufacturing"}


def test_a_not_block(tmp_path):
    (tmp_path / "n.yaml").write_text("""ruleset: n
title: not
version: "1"
inputs:
  a: {type: integer, required: true}
  b: {type: boolean, default: false}
outputs:
  x: {type: boolean, default: false}
stages:
  - name: s
    rules:
      - id: N-1
        title: not block
        source: t § 1
        when:
          not:
            any: [a > 3, b]
        then: {x: true}
""", encoding="utf-8")
    rs = RuleBook.load(tmp_path, backend="python").get("n").ruleset
    w = why_not(rs, {"a": 5}, AS_OF, "N-1")
    assert w["condition"]["kind"] == "not" and w["condition"]["value"] == "false"
    assert w["condition"]["items"][0]["kind"] == "any" and w["condition"]["items"][0]["value"] == "true"
    assert w["verdict"] == "did not fire: `not (a > 3 or b)` is false"


def test_unknown_rule_suggests_close_ids(warranty):
    with pytest.raises(UnknownRule, match="did you mean 'W-411'"):
        why_not(warranty, _case("free_repair.json"), AS_OF, "W-4111")


def test_cli_text(capsys):
    rc = main(["explain", "warranty", str(ROOT / "examples/warranty/free_repair.json"), "--as-of", "2026-11-25",
               "--why-not", "W-423", "--rules", str(RULES)])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.startswith("why not W-423 (保修期内的服务费用按照质量责任划分，非质量责任由用户承担)?")
    assert "rules/warranty.yaml:" in out and "stage charges, priority 20" in out
    assert "in force: yes (effective date 2026-03-10" in out
    assert "✓ in_warranty" in out and "✗ not covered" in out and "covered（属保修（三包）责任范围：保修期内、属质量责任、无除外情形） = true (from W-101)" in out
    assert "verdict: did not fire: `not covered` is false" in out


def test_cli_json_and_errors(capsys, tmp_path):
    case = str(ROOT / "examples/warranty/free_repair.json")
    rc = main(["explain", "warranty", case, "--as-of", "2026-11-25", "--why-not", "W-411", "--format", "json",
               "--rules", str(RULES)])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["fired"] is True and doc["verdict"] == "fired and decided service_type, parts_charge, labour_charge, payer"
    assert main(["explain", "warranty", case, "--why-not", "W-9", "--rules", str(RULES)]) == 2
    assert "no rule 'W-9' in warranty" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"product_line": "spaceship", "purchase_date": "2026-01-01"}', encoding="utf-8")
    assert main(["explain", "warranty", str(bad), "--why-not", "W-411", "--rules", str(RULES)]) == 2
    assert "product_line: must be one of" in capsys.readouterr().err


def test_explain_without_why_not_is_the_full_explanation(capsys):
    rc = main(["explain", "warranty", str(ROOT / "examples/warranty/free_repair.json"), "--as-of", "2026-11-25",
               "--rules", str(RULES)])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and "not_fired" in doc and doc["decision"]["service_type"] == "free"
