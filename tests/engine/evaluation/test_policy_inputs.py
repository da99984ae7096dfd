"""Inputs the policy used to default silently or require wrongly (issue 10, items 13–15).

- a region must be one of China's 34 provincial-level divisions (short names), else a 422
  listing them — never a silent "not remote";
- money is never computed from a made-up zero: a part kept locally needs its weight;
- the invoice price is asked for only by the outcomes computed from it (`needs: [price]`):
  a free exchange is decided without it, a return names it and the rule that uses it.
"""
import json

import pytest

from engine.calendar import WorkCalendar
from aftersales.cli import main
from engine.loading.compiler import compile_ruleset
from engine.errors import RulesError

from tests.api.test_api import make_app

PROVINCES = ("北京 天津 河北 山西 内蒙古 辽宁 吉林 黑龙江 上海 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 "
             "广东 广西 海南 重庆 四川 贵州 云南 西藏 陕西 甘肃 青海 宁夏 新疆 台湾 香港 澳门").split()
SCRAP = {"weight_t": 1, "market_prices_per_t": ["2000.00"], "proposed_price": "1500.00", "quotes": 3,
         "buyer_licence": "trade"}
WASHER_91_DAYS = {"product_line": "national_sanbao", "product_category": "washing_machine",
                  "purchase_date": "2026-06-01", "fault_cause": "manufacturing", "request": "exchange",
                  "parts_unavailable": True, "days_waiting_repair": 91}


@pytest.fixture
def client(tmp_path):
    return make_app(tmp_path, database_url=f"sqlite:///{tmp_path / 'log' / 'decisions.db'}").test_client()


def decide(client, ruleset, case):
    r = client.post(f"/v1/decisions/{ruleset}", json={"case": case, "as_of": "2026-11-25"})
    return r.status_code, r.get_json()


def test_an_unknown_region_is_a_422_listing_every_province(client):
    status, body = decide(client, "scrap_pricing", dict(SCRAP, region="Atlantis"))
    assert status == 422
    message = body["errors"]["case.region"][0]
    assert all(p in message for p in PROVINCES), message
    assert len(PROVINCES) == 34


def test_every_province_is_accepted_and_only_the_remote_ones_get_the_cut(books):
    remote = books["python"].get("scrap_pricing").ruleset.tables["remote_region_discount"].rows
    assert set(remote) < set(PROVINCES)  # every entry of the table is a province the input accepts
    cuts = {p: books["python"].decide("scrap_pricing", dict(SCRAP, region=p), as_of="2026-11-25")
            .outputs["regional_discount"] for p in PROVINCES}
    assert cuts == {p: "0.10" if p in remote else "0" for p in PROVINCES}


def test_a_part_kept_locally_without_a_weight_is_a_422_naming_weight_t(client):
    # before: weight 0 → market value 0 → destroy_locally, verdict not_applicable (200)
    case = {k: v for k, v in SCRAP.items() if k != "weight_t"}
    status, body = decide(client, "scrap_pricing", case)
    assert status == 422 and list(body["errors"]) == ["case.weight_t"], body
    assert "重量" in body["errors"]["case.weight_t"][0]


def test_a_returned_part_needs_no_weight_and_gets_no_made_up_market_value(client):
    status, body = decide(client, "scrap_pricing", {"has_claim_value": True, "market_prices_per_t": ["2000.00"]})
    assert status == 200, body
    assert body["decision"]["disposition"] == "return_to_company"
    assert "market_value" not in body["decision"] and "floor_price" not in body["decision"]


def test_the_91_day_washing_machine_exchange_without_a_price_is_a_free_exchange(client):
    # before: 422 "price required" although a free exchange needs no price
    status, body = decide(client, "warranty", WASHER_91_DAYS)
    assert status == 200, body
    out = body["decision"]
    assert (out["remedy"], out["request_granted"], out["service_type"], out["deduction"]) == \
        ("exchange", True, "free", "0.00")
    assert "refund" not in out
    assert "W-N-12" in {f["id"] for f in body["fired"]}


def test_a_return_without_a_price_is_a_422_naming_price_and_the_rule_that_uses_it(client):
    case = {"product_line": "electronics", "purchase_date": "2026-03-10", "fault_cause": "manufacturing",
            "request": "return"}
    status, body = decide(client, "warranty", case)
    assert status == 422
    assert body["errors"] == {"case.price": [
        "needed for this decision: rule W-500 退货收取折旧费（自开具发票之日起至退货之日，扣除修理占用时间） "
        "(source 000_65a491cc8927a688.txt § 产品保修及退换规定)"]}
    status, body = decide(client, "warranty", dict(case, price="3000.00"))
    assert status == 200 and body["decision"]["remedy"] == "return" and "refund" in body["decision"]


def test_an_exchange_that_becomes_a_return_asks_for_the_price(client):
    status, body = decide(client, "warranty", dict(WASHER_91_DAYS, same_model_available=False))
    assert status == 422 and "rule W-600" in body["errors"]["case.price"][0], body


def test_a_return_the_policy_refuses_is_decided_without_a_price(client):
    status, body = decide(client, "warranty", {"product_line": "electronics", "purchase_date": "2026-03-10",
                                                "request": "return"})  # cause unknown: not covered
    assert status == 200 and body["decision"]["remedy"] == "repair" and not body["decision"]["request_granted"]


def test_the_cli_exits_2_naming_price_and_the_rule(tmp_path, capsys):
    case = tmp_path / "case.json"
    case.write_text(json.dumps(dict(WASHER_91_DAYS, same_model_available=False)), encoding="utf-8")
    assert main(["eval", "warranty", str(case), "--as-of", "2026-11-25"]) == 2
    err = capsys.readouterr().err
    assert "price" in err and "W-600" in err


RULE_SET = """ruleset: n
title: needs
version: "1"
inputs:
  price: {{type: money}}
  kind: {{type: enum, values: [a, b], default: a}}
outputs:
  refund: {{type: money, required: false}}
stages:
  - name: s
    rules:
      - id: R-1
        title: refund
        source: seed.txt § 1
        when: kind == 'b'
        needs: {needs}
        then: {{refund: = price}}
"""


@pytest.mark.parametrize("needs, message", [
    ("[prise]", "needs: 'prise' is not an input — did you mean 'price'?"),
    ("[kind]", "needs: input 'kind' has a default, so it is always given"),
    ("price", "needs is a list of input names"),
])
def test_a_bad_needs_is_a_load_error_with_file_and_line(tmp_path, needs, message):
    path = tmp_path / "n.yaml"
    path.write_text(RULE_SET.format(needs=needs), encoding="utf-8")
    with pytest.raises(RulesError) as e:
        compile_ruleset(path, WorkCalendar.package_only())
    [problem] = e.value.problems
    assert message in problem.message and problem.line == 16 and problem.rule_id == "R-1", problem


def test_needs_asks_only_when_the_rule_fires(tmp_path):
    from engine.errors import CaseError
    from engine.rulebook import RuleBook
    (tmp_path / "n.yaml").write_text(RULE_SET.format(needs="[price]"), encoding="utf-8")
    for backend in ("python", "durable"):
        book = RuleBook.load(tmp_path, backend=backend)
        assert book.decide("n", {}, as_of="2026-11-25").outputs == {}
        assert book.decide("n", {"kind": "b", "price": "2.50"}, as_of="2026-11-25").outputs == {"refund": "2.50"}
        with pytest.raises(CaseError) as e:
            book.decide("n", {"kind": "b"}, as_of="2026-11-25")
        assert e.value.errors == {"price": ["needed for this decision: rule R-1 refund (source seed.txt § 1)"]}
