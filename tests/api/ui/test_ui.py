"""The web pages (api/ui) through Flask's test client: fast checks of every page, no browser.

The browser drives the same pages end to end in tests/e2e/test_ui_browser.py."""
import re
import shutil
from pathlib import Path
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient

from api.settings import Token
from api.ui import words
from api.ui.forms import read

from tests.conftest import RULES
from tests.api.test_api import make_app

AS_OF = "2026-11-25T10:00"
WARRANTY_FORM = {"product_line": "electronics", "purchase_date": "2026-03-10", "fault_cause": "manufacturing",
                 "request": "repair", "price": "4599.00", "has_invoice": "true", "same_model_available": "true",
                 "as_of": AS_OF}
SCRAP_FORM = {"weight_t": "1.6", "market_prices_per_t": ["1500.00", "1700.00", "1650.00", ""], "region": "湖南",
              "proposed_price": "1,500.00", "quotes": "3", "buyer_licence": "trade", "special_reason": "收购商承担运输",
              "original_value": "62000", "as_of": AS_OF}
SLA_FORM = {"kind": "repair", "requested_at": "2026-09-29T14:30", "responded_at": "2026-09-29T16:05",
            "appraised_at": "2026-09-30T15:20", "onsite_at": "2026-09-30T15:20", "distance_km": "420",
            "parts_needed": "true", "in_warranty": "true", "as_of": "2026-10-12T09:00"}
DECIDE, AUDIT = "decide-token-0123456789", "audit-token-0123456789"


class Page(HTMLParser):
    """The few things the tests read from a page: elements by id, labels, inputs, links."""

    def __init__(self, html: str):
        super().__init__()
        self.ids, self.labels, self.controls, self.links, self.assets = {}, set(), [], [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids[a["id"]] = (tag, a)
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append(a)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag in ("link", "script", "img") and (a.get("href") or a.get("src")):
            self.assets.append(a.get("href") or a.get("src"))


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


class FormClient(FlaskClient):
    """A browser that sends the form's CSRF token, as the pages' own forms do (tests/api/ui/test_ui_hardening.py
    checks that a form without it is refused)."""

    def post(self, *args, **kwargs):
        if isinstance(kwargs.get("data"), dict) and "csrf" not in kwargs["data"]:
            kwargs["data"] = dict(kwargs["data"], csrf=csrf_of(self))
        return super().post(*args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = FormClient
    return app.test_client()


def text(r) -> str:
    return r.get_data(as_text=True)


def test_start_page_lists_rule_sets_with_title_version_and_what_each_decides(client):
    r = client.get("/ui/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = text(r)
    for title in ("保修、免费与有偿服务、退换货", "旧件处置与当地销售定价", "售后服务时限与升级", "售后服务部库存商品折旧"):
        assert title in html
    assert "版本 2026.1" in html and "决定：" in html and "是否在保修期内" in html
    page = Page(html)
    assert {"/ui/decide/warranty", "/ui/scrap", "/ui/rules/warranty", "/ui/sla"} <= set(page.links)


def test_pages_load_no_asset_from_the_internet(client):
    for path in ("/ui/", "/ui/decide/warranty", "/ui/scrap", "/ui/rules/sla", "/ui/decisions"):
        html = text(client.get(path))
        page = Page(html)
        assert page.assets and all(a.startswith("/ui/static/") for a in page.assets), (path, page.assets)
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), path
    assert client.get("/ui/static/ui.css").status_code == 200
    assert client.get("/ui/static/ui.js").status_code == 200


def test_the_form_is_generated_from_the_inputs_with_labels_on_every_field(client):
    html = text(client.get("/ui/decide/warranty"))
    page = Page(html)
    # Chinese labels from the YAML titles, selects with words, pickers by type, defaults filled in
    assert '<label for="f-purchase_date">购买日期' in html and "开具发票之日" in html
    assert page.ids["f-product_line"][0] == "select" and '<option value="national_sanbao">国家三包目录商品' in html
    assert page.ids["f-purchase_date"][1]["type"] == "date"
    assert '<option value="main_unit" selected>整机' in html  # default of `item`
    assert page.ids["f-has_invoice"][1]["type"] == "checkbox" and "checked" in page.ids["f-has_invoice"][1]
    assert page.ids["f-repairs_same_fault"][1]["value"] == "0"
    assert page.ids["f-as_of"][1]["type"] == "datetime-local"
    # every control is labelled: a <label for>, or aria-label (the items of a list field)
    for c in page.controls:
        assert c.get("id") in page.labels or c.get("aria-label"), c
    # groups in the YAML's order, required fields first within a group
    legends = re.findall(r'<fieldset class="group"><legend>([^<]+)</legend>', html)
    assert legends == ["产品与购买", "诉求与故障", "修理经过", "家用汽车"]
    assert html.index('id="f-purchase_date"') < html.index('id="f-product_category"')
    sla = Page(text(client.get("/ui/decide/sla")))
    assert sla.ids["f-requested_at"][1]["type"] == "datetime-local"


def test_a_warranty_decision_from_the_form_is_shown_and_logged(client, app):
    r = client.post("/ui/decide/warranty", data=WARRANTY_FORM)
    assert r.status_code == 200, text(r)
    html = text(r)
    assert 'data-testid="headline">免费修理<' in html
    assert "W-P1-MAIN" in html and "§ 售后服务指南 四.1" in html and "000_65a491cc8927a688.txt" in html
    assert "2027年3月10日" in html and "¥0.00" in html  # dates and money in words
    # a "why not …?" link per rule that did not fire, with the failed condition and the values
    assert 'href="#why-W-P1-ACC"' in html and "为什么没有 W-P1-ACC" in html
    decision_id = re.search(r'data-testid="permalink">([0-9a-f-]{36})<', html)[1]
    record = app.extensions["aftersales"].log.get(decision_id)
    assert record["caller"] == "ui:local" and record["response"]["decision"]["service_type"] == "free"
    assert record["case"] == {"product_line": "electronics", "purchase_date": "2026-03-10",
                              "fault_cause": "manufacturing", "price": "4599.00"}  # defaults left to the rules
    assert record["as_of"].startswith("2026-11-25T10:00:00")
    assert "not_fired" in record["response"]


def test_a_return_shows_the_refund_in_the_headline(client):
    html = text(client.post("/ui/decide/warranty", data={
        "product_line": "national_sanbao", "product_category": "washing_machine", "purchase_date": "2026-06-18",
        "price": "3299.00", "fault_cause": "manufacturing", "request": "return", "repairs_same_fault": "2",
        "days_in_repair_total": "12", "same_model_available": "true", "has_invoice": "true", "as_of": AS_OF}))
    assert 'data-testid="headline">退货退款 ¥3,054.87<' in html


def test_an_invalid_field_is_shown_beside_the_field(client, app):
    r = client.post("/ui/decide/warranty", data=dict(WARRANTY_FORM, purchase_date="2027-01-05"))
    assert r.status_code == 422
    html = text(r)
    page = Page(html)
    assert page.ids["f-purchase_date"][1]["aria-invalid"] == "true"
    assert "e-purchase_date" in page.ids["f-purchase_date"][1]["aria-describedby"]
    assert re.search(r'id="e-purchase_date">[^<]*购买日期不能晚于决策日期', html)  # a validation of the YAML
    assert 'id="result"' not in html
    html = text(client.post("/ui/decide/warranty", data=dict(WARRANTY_FORM, price="abc")))
    assert re.search(r'id="e-price">[^<]*请填写数字', html)  # the engine's type message, said in Chinese
    assert Page(html).ids["f-price"][1]["value"] == "abc"  # what was typed stays
    items, _ = app.extensions["aftersales"].log.page()
    assert items == []  # nothing decided, nothing logged


def test_a_boolean_that_defaults_to_true_can_be_unticked():
    from engine.rulebook import RuleBook
    rs = RuleBook.load(RULES, backend="python").rulesets["warranty"].ruleset

    class Form(dict):
        def getlist(self, k):
            v = self.get(k)
            return v if isinstance(v, list) else [] if v is None else [v]
    case, _ = read(rs, Form(product_line="general", purchase_date="2026-01-02"))
    assert case["has_invoice"] is False and case["same_model_available"] is False
    assert "clearance_sale" not in case  # false is its default


def _output(html: str, name: str) -> str:
    """The value a card shows for an output, as text."""
    return re.search(rf'data-output="{name}"><dt>[^<]*</dt><dd[^>]*>([^<]*)<', html)[1]


def _arithmetic(html: str) -> str:
    """The card's arithmetic as the reader sees it, tags removed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", re.search(r'<div class="arith".*?</div>', html, re.S)[0]))


def test_scrap_page_shows_floor_verdict_approver_and_the_arithmetic(client, app):
    r = client.post("/ui/scrap", data=SCRAP_FORM)
    assert r.status_code == 200, text(r)
    html = text(r)
    d = app.extensions["aftersales"].log.page()[0][0]["response"]["decision"]
    assert d["price_verdict"] == "special_approval_required" and d["approver"] == "company_leader"
    assert _output(html, "floor_price") == words.money(d["floor_price"], "zh") == "¥2,198.67"
    assert _output(html, "price_verdict") == "需特别审批（总经理）" and _output(html, "approver") == "公司主管领导"
    arithmetic = _arithmetic(html)  # the rules' own expressions (floor ratio shown as its value), and what they read
    assert "市场价值 SP-201 = round_money(market_value_exact) = ¥2,586.67" in arithmetic
    assert "底价 SP-203 = round_money(market_value_exact * 85%) = ¥2,198.67" in arithmetic
    assert "market_value_exact = 重量 * mean(区域当日废金属市场价)" in arithmetic
    assert "重量 = 1.6" in arithmetic and "¥1,500.00、¥1,700.00、¥1,650.00" in arithmetic
    logged = app.extensions["aftersales"].log.page()[0][0]["case"]
    assert logged["market_prices_per_t"] == ["1500.00", "1700.00", "1650.00"] and logged["proposed_price"] == "1500.00"


def test_scrap_page_in_a_remote_region_shows_the_cut(client):
    arithmetic = _arithmetic(text(client.post("/ui/scrap", data=dict(SCRAP_FORM, region="新疆"))))
    assert "交通不便利区域下调幅度 SP-202 = applied_discount = 10%" in arithmetic
    assert "底价 SP-202 = round_money(market_value_exact * 85% * (1 - applied_discount)) = ¥1,978.80" in arithmetic
    assert "listed_discount = 0.10" in arithmetic


def test_the_arithmetic_follows_an_edit_of_the_rules(tmp_path):
    """A policy owner changes how the floor is computed: the page shows the new expression and the
    engine's new value, with no arithmetic of its own to go stale."""
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("tests"))
    path = rules / "scrap_pricing.yaml"
    source = path.read_text(encoding="utf-8")
    written = "floor_price: = round_money(market_value_exact * floor_ratio)\n"
    assert source.count(written) == 1
    app = make_app(tmp_path)
    app.test_client_class = FormClient
    client = app.test_client()
    assert _output(text(client.post("/ui/scrap", data=SCRAP_FORM)), "floor_price") == "¥2,198.67"
    before = app.extensions["aftersales"].log.page()[0][0]["decision_id"]
    path.write_text(source.replace(written, "floor_price: = round_money(market_value_exact * floor_ratio - 100)\n"),
                    encoding="utf-8")
    assert app.extensions["aftersales"].source.reload()["scrap_pricing"] == "reloaded"
    html = text(client.post("/ui/scrap", data=SCRAP_FORM))
    assert _output(html, "floor_price") == "¥2,098.67"
    assert "底价 SP-203 = round_money(market_value_exact * 85% - 100) = ¥2,098.67" in _arithmetic(html)
    # the decision made before the edit keeps its value, and no expression it was not computed by
    html = text(client.get(f"/ui/decisions/{before}"))
    assert _output(html, "floor_price") == "¥2,198.67" and 'class="arith"' not in html


def test_the_timeline_comes_from_the_declarations_not_the_rule_set_name(tmp_path):
    """The SLA rules under another name, with one due time renamed: the page draws every declared
    `datetime` output with the status and reached time its fired rules read."""
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("tests"))
    source = (rules / "sla.yaml").read_text(encoding="utf-8").replace("ruleset: sla\n", "ruleset: service_levels\n")
    (rules / "sla.yaml").unlink()
    (rules / "service_levels.yaml").write_text(re.sub(r"\bresponse_due\b", "first_answer_due", source), encoding="utf-8")
    app = make_app(tmp_path)
    app.test_client_class = FormClient
    html = text(app.test_client().post("/ui/decide/service_levels", data=SLA_FORM))
    svg = re.search(r"<svg class=\"timeline\".*?</svg>", html, re.S)[0]
    assert svg.count("<path d=") == 4
    assert "响应期限：2026年9月30日 14:30，实际 2026年9月29日 16:05，按时" in svg


def test_sla_page_draws_the_timeline_with_holidays(client):
    assert client.get("/ui/sla").headers["Location"].endswith("/ui/decide/sla")
    r = client.post("/ui/decide/sla", data=SLA_FORM)
    assert r.status_code == 200, text(r)
    html = text(r)
    svg = re.search(r"<svg class=\"timeline\".*?</svg>", html, re.S)[0]
    assert 'class="holiday"' in svg and "2026年10月1日 法定节假日" in svg and 'class="weekend"' in svg
    assert svg.count("<path d=") == 4  # a due-time diamond per step
    assert "#1a7f37" in svg and "#0969da" in svg  # met (green) and pending (blue)
    assert "响应期限：2026年9月30日 14:30，实际 2026年9月29日 16:05，按时" in svg  # the text alternative


def test_a_stored_decision_opens_on_its_page(client):
    r = client.post("/ui/decide/warranty", data=WARRANTY_FORM)
    decision_id = re.search(r'data-testid="permalink">([0-9a-f-]{36})<', text(r))[1]
    html = text(client.get(f"/ui/decisions/{decision_id}"))
    assert 'data-testid="headline">免费修理<' in html and decision_id in html
    page = Page(html)
    assert page.ids["f-purchase_date"][1]["value"] == "2026-03-10"  # the case, back in the form
    assert page.ids["f-as_of"][1]["value"] == "2026-11-25T10:00"
    r = client.get("/ui/decisions/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404 and r.mimetype == "text/html"


def test_an_api_decision_opens_on_the_page_too(client):
    d = client.post("/v1/decisions/depreciation", json={"case": {"cost": "18650.00", "stock_in_date": "2026-04-08"},
                                                        "as_of": "2026-11-25"}).get_json()
    html = text(client.get(f"/ui/decisions/{d['decision_id']}"))
    assert "账面价值 ¥12,682.00" in html and "32%" in html  # depreciation_rate 0.32
    assert 'id="not-fired"' not in html  # asked with explain=fired: no why-not list


def test_recent_decisions_filter_by_rule_set_and_date(client):
    client.post("/ui/decide/warranty", data=WARRANTY_FORM)
    client.post("/ui/scrap", data=SCRAP_FORM)
    html = text(client.get("/ui/decisions"))
    assert html.count("<tr data-id=") == 2
    html = text(client.get("/ui/decisions?ruleset=scrap_pricing"))
    assert html.count("<tr data-id=") == 1 and "需特别审批" in html
    html = text(client.get("/ui/decisions?since=2020-01-01&until=2020-12-31"))
    assert "<tr data-id=" not in html and "该范围内没有决策" in html
    r = client.get("/ui/decisions?since=yesterday")
    assert r.status_code == 400 and r.mimetype == "text/html"


def test_rules_page_shows_each_rule_in_words_with_its_clause_and_coverage(client, tmp_path):
    shutil.copytree(RULES / "tests", tmp_path / "rules" / "tests")
    html = text(client.get("/ui/rules/scrap_pricing"))
    assert html.count('<tr id="rule-') == 29
    row = re.search(r'<tr id="rule-SP-306".*?</tr>', html, re.S)[0]
    assert "处理价不低于市场价的85%" in row and "§ 7.2.2" in row and "价格结论：接受" in row
    assert "拟处理价" in row and "≥" in row and "✓" in row
    assert "<strong>29/29</strong>" in html  # the coverage of the rule tests
    sp_ap = re.search(r'<tr id="rule-SP-AP.1".*?</tr>', html, re.S)[0]
    assert "50,000" in sp_ap  # a parameter shown as its value


def test_rules_page_shows_the_load_error_of_a_refused_edit(client, app, tmp_path):
    path = tmp_path / "rules" / "sla.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n  - this is: [not valid\n", encoding="utf-8")
    app.extensions["aftersales"].source.reload(force=True)
    html = text(client.get("/ui/rules/sla"))
    assert 'class="load-error"' in html and "sla.yaml:" in html
    assert html.count('<tr id="rule-') > 10  # the previous version keeps serving, and is shown
    assert 'class="load-error"' in text(client.get("/ui/"))


def test_money_numbers_and_dates_read_as_before_in_chinese_and_by_cldr_in_english():
    assert words.money("1234.5", "zh") == "¥1,234.50" and words.money("1234.5", "en") == "CN¥1,234.50"
    assert words.money("-3.00", "zh") == "-¥3.00"
    assert words.percent("0.075", "zh") == "7.5%" and words.percent("0.85", "en") == "85%"
    assert words.number("12345.678", "zh") == "12,345.678"
    assert words.day("2026-11-05", "zh") == "2026年11月5日" and words.day("2026-11-05", "en") == "November 5, 2026"
    assert words.moment("2026-09-30T06:30:00Z", "zh") == "2026年9月30日 14:30"  # China time
    assert words.moment("2026-09-30T14:30:05+08:00", "en") == "September 30, 2026 14:30:05"
    assert words.short_moment(words.parse_datetime("2026-09-30T14:30:00+08:00"), "zh") == "9月30日 14:30"


def test_english_switch(client):
    r = client.get("/ui/decide/warranty?lang=en")
    html = text(r)
    assert '<html lang="en">' in html and "Purchase date" in html and ">Electronics (projectors etc.)<" in html
    assert "lang=en" in r.headers["Set-Cookie"]
    html = text(client.post("/ui/decide/warranty", data=WARRANTY_FORM))
    assert 'data-testid="headline">Free repair<' in html and "March 10, 2027" in html  # Babel's English date
    html = text(client.get("/ui/decide/warranty?lang=zh"))
    assert '<html lang="zh-CN">' in html


def test_every_enum_value_is_labelled_in_its_rule_file_and_has_an_english_word():
    from engine.loading.yamlsource import load_yaml
    from engine.rulebook import RuleBook
    book = RuleBook.load(RULES, backend="python")
    unlabelled, no_english = [], []
    for name, loaded in book.rulesets.items():
        rs, doc = loaded.ruleset, load_yaml(Path(loaded.ruleset.path).read_text(encoding="utf-8"), name)
        for section, declared in (("inputs", rs.inputs), ("outputs", rs.outputs)):
            for field, spec in declared.items():
                if spec.type.kind != "enum":
                    continue
                if not isinstance(doc[section][field]["values"], dict):  # the list form: codes without labels
                    unlabelled.append(f"{name}.{field}")
                for v in spec.type.values:
                    if words.value_words(spec.type, field, v, "en") == v:
                        no_english.append(f"{name}.{field}: {v}")
    assert not unlabelled, "give these enums `values: {code: 标签}` in rules/: " + ", ".join(unlabelled)
    assert not no_english, "add to values_en in api/ui/words.yaml: " + ", ".join(no_english)


def test_an_enum_value_reads_as_its_rule_file_label_in_chinese_and_its_english_word_in_english():
    from engine.rulebook import RuleBook
    fault = RuleBook.load(RULES, backend="python").get("warranty").ruleset.inputs["fault_cause"].type
    assert words.value_words(fault, "fault_cause", "misuse", "zh") == "使用、维护、保管不当"
    assert words.value_words(fault, "fault_cause", "misuse", "en") == "Misuse or poor care"
    assert words.value_words(fault, "fault_cause", "spaceship", "zh") is None


@pytest.fixture
def secured(tmp_path):
    tokens = {DECIDE: Token("counter", frozenset({"decide"})), AUDIT: Token("auditor", frozenset({"audit"}))}
    return make_app(tmp_path, tokens).test_client()


def login(client, token):
    r = client.post("/ui/login", data={"token": token, "next": "/ui/", "csrf": csrf_of(client, "/ui/login")})
    assert r.status_code == 302, text(r)
    return Page(text(client.get("/ui/decide/warranty"))).ids.get("csrf")


def csrf_of(client, path="/ui/decide/warranty"):
    return re.search(r'name="csrf" value="([^"]+)"', text(client.get(path)))[1]


def test_with_tokens_pages_need_a_login_and_follow_the_roles(secured):
    r = secured.get("/ui/decisions")
    assert r.status_code == 302 and "/ui/login" in r.headers["Location"]
    assert secured.post("/ui/login", data={"token": "wrong-token-0123456789",
                                           "csrf": csrf_of(secured, "/ui/login")}).status_code == 401
    login(secured, DECIDE)
    assert secured.get("/ui/").status_code == 200
    r = secured.post("/ui/decide/warranty", data=WARRANTY_FORM)  # no CSRF token
    assert r.status_code == 400
    r = secured.post("/ui/decide/warranty", data=dict(WARRANTY_FORM, csrf=csrf_of(secured)))
    assert r.status_code == 200 and "免费修理" in text(r)
    decision_id = re.search(r'data-testid="permalink">([0-9a-f-]{36})<', text(r))[1]
    assert secured.get("/ui/decisions").status_code == 403  # audit only
    assert secured.get(f"/ui/decisions/{decision_id}").status_code == 403
    secured.post("/ui/logout", data={"csrf": csrf_of(secured)})
    login(secured, AUDIT)
    html = text(secured.get("/ui/decisions"))
    assert "ui:counter" in html
    assert secured.get(f"/ui/decisions/{decision_id}").status_code == 200
    r = secured.post("/ui/decide/warranty", data=dict(WARRANTY_FORM, csrf=csrf_of(secured)))
    assert r.status_code == 403  # the audit token cannot decide


def test_a_bearer_token_works_on_the_pages_too(secured):
    r = secured.get("/ui/decisions", headers={"Authorization": f"Bearer {AUDIT}"})
    assert r.status_code == 200


def test_the_pages_show_the_label_the_rule_file_gives_an_enum_value(tmp_path):
    """The select and the decision card read the rule set's labels: relabel one in the rule file
    and the page follows, while the form still sends the code."""
    make_app(tmp_path)  # copies the rules into tmp_path/rules
    path = tmp_path / "rules" / "warranty.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("      workshop: 送修\n", "      workshop: 客户送修到网点\n")
                    .replace("      free: 免费服务\n", "      free: 保内免费\n"), encoding="utf-8")
    app = make_app(tmp_path)
    app.test_client_class = FormClient
    client = app.test_client()
    html = text(client.get("/ui/decide/warranty"))
    assert '<option value="workshop">客户送修到网点</option>' in html and ">送修<" not in html
    case = {"product_line": "electronics", "purchase_date": "2026-03-10", "fault_cause": "manufacturing",
            "request": "repair", "service_channel": "workshop", "price": "4599.00", "as_of": "2026-11-25"}
    card = text(client.post("/ui/decide/warranty", data=case))
    assert "保内免费" in card and "免费服务" not in card
