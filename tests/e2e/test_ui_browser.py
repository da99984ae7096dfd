"""The web pages end to end: the real server (`aftersales serve`, gunicorn, on loopback) driven
by Debian's Chromium, headless, through Playwright for Python.

`make test` installs the browser (tests/browser_setup.sh) and sets AFTERSALES_REQUIRE_BROWSER=1,
so these tests fail rather than skip when it is missing. Screenshots of every page, at
desktop and at phone width, go to artifacts/ui/ (not committed)."""
import json
import os
import shutil
import signal
import urllib.request
from urllib.parse import urlparse

import pytest

from ..conftest import ROOT, RULES
from .test_serve import Server

ARTIFACTS = ROOT / "artifacts" / "ui"
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
AS_OF = "2026-11-25T10:00"


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui-server")
    shutil.copytree(RULES, folder / "rules")  # with the rule tests: the rules page shows their coverage
    s = Server(folder)
    yield s
    s.kill(signal.SIGTERM)


@pytest.fixture
def open_page(browser, server):
    """open_page(path, viewport) → a page of the real server; every request it makes must stay on loopback."""
    contexts, outside = [], []

    def only_loopback(route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "about:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def open_(path, viewport=DESKTOP):
        ctx = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
        ctx.set_default_timeout(15_000)
        ctx.route("**/*", only_loopback)
        contexts.append(ctx)
        page = ctx.new_page()
        page.goto(server.url + path)
        return page

    yield open_
    for ctx in contexts:
        ctx.close()
    assert not outside, f"the pages asked for assets outside this machine: {outside}"


def shot(page, name: str, readme: str = ""):
    """A full-page screenshot to artifacts/ui/; with AFTERSALES_UPDATE_SCREENSHOTS=1 also the first
    screen of it to docs/screenshots/<readme>.png, the pictures of the README."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if readme and os.environ.get("AFTERSALES_UPDATE_SCREENSHOTS"):
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(ROOT / "docs" / "screenshots" / f"{readme}.png"))


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def submit(page):
    with page.expect_navigation():
        page.get_by_role("button", name="决策", exact=True).click()


def fill_warranty(page, purchase_date="2026-03-10"):
    page.get_by_label("产品线").select_option(label="电子产品（投影机等）")
    page.get_by_label("购买日期").fill(purchase_date)
    page.get_by_label("故障原因").select_option("manufacturing")
    page.get_by_label("发票价格").fill("4599.00")
    page.get_by_label("决策时点（北京时间）").fill(AS_OF)


def test_start_page_lists_the_rule_sets(open_page):
    for viewport, tag in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = open_page("/ui/", viewport)
        for title in ("保修、免费与有偿服务、退换货", "旧件处置与当地销售定价", "售后服务时限与升级", "售后服务部库存商品折旧"):
            assert page.get_by_role("heading", name=title).is_visible()
        assert fits_the_width(page)
        shot(page, f"start-{tag}")


def test_a_warranty_case_shows_the_remedy_and_the_clause_of_a_fired_rule(open_page):
    page = open_page("/ui/decide/warranty")
    shot(page, "decide-warranty-form")
    fill_warranty(page)
    submit(page)
    card = page.locator("#result")
    assert card.get_by_test_id("headline").inner_text() == "免费修理"
    rule = card.locator('li.rule[data-rule="W-P1-MAIN"]')
    assert "整机免费保修一年" in rule.inner_text()
    assert rule.get_by_test_id("source").inner_text() == "§ 售后服务指南 四.1"
    assert card.locator('[data-output="service_type"] dd').inner_text() == "免费服务"
    assert card.locator('[data-output="warranty_ends_on"] dd').inner_text() == "2027年3月10日"
    shot(page, "decide-warranty-result", readme="decision")
    # "why not …?": the link opens the rule's explanation, with the condition that failed
    link = card.get_by_role("link", name="为什么没有 W-P1-ACC「附件免费保修半年」？")
    page.locator("#not-fired > summary").click()
    link.click()
    why = page.locator("#why-W-P1-ACC .because")
    why.wait_for(state="visible")
    because = why.inner_text()
    assert "附件" in because  # the failed condition, in words: item == 附件
    assert "整机" in because  # the value it saw: item = 整机
    shot(page, "decide-warranty-why-not")


def test_the_decision_page_at_phone_width(open_page):
    page = open_page("/ui/decide/warranty", PHONE)
    fill_warranty(page)
    submit(page)
    headline = page.get_by_test_id("headline")
    assert headline.inner_text() == "免费修理"
    assert headline.bounding_box()["y"] < page.locator("form.decide-form").bounding_box()["y"]  # the card first
    assert fits_the_width(page)
    shot(page, "decide-warranty-phone")


def test_a_scrap_case_under_the_floor_needs_special_approval(open_page):
    page = open_page("/ui/scrap")
    page.get_by_label("重量").fill("1.6")
    page.get_by_label("区域当日废金属市场价 1", exact=True).fill("1500.00")
    page.get_by_label("区域当日废金属市场价 2", exact=True).fill("1700.00")
    page.get_by_role("button", name="+ 再加一项").click()  # a third grade
    page.get_by_label("区域当日废金属市场价 3", exact=True).fill("1650.00")
    page.get_by_label("所在省份").select_option("湖南")  # an enum of the provinces: a select
    page.get_by_label("拟处理价").fill("1950.00")
    page.get_by_label("变卖报告所列废品收购站报价家数").fill("3")
    page.get_by_label("低价处理的原因").fill("收购商承担吊装、运输与切割费用")
    page.get_by_label("收购单位资质").select_option("trade")
    page.get_by_label("一次性处理物资原值").fill("62000")
    page.get_by_label("决策时点（北京时间）").fill(AS_OF)
    shot(page, "scrap-form")
    submit(page)
    card = page.locator("#result")
    assert card.locator('[data-output="price_verdict"] dd').inner_text() == "需特别审批（总经理）"
    assert card.locator('[data-output="approver"] dd').inner_text() == "公司主管领导"
    assert card.locator('[data-output="floor_price"] dd').inner_text() == "¥2,198.67"
    floor = card.locator('.arith [data-computed="floor_price"]').inner_text()  # the rule's own expression
    assert "round_money(market_value_exact * 85%)" in floor and "¥2,198.67" in floor and "1.6" in floor
    assert "¥2,586.67" in card.locator('.arith [data-computed="market_value"]').inner_text()
    shot(page, "scrap-result", readme="scrap-price")
    phone = open_page("/ui/scrap", PHONE)
    assert fits_the_width(phone)
    shot(phone, "scrap-form-phone")


def test_an_invalid_field_shows_its_message_beside_the_field(open_page):
    page = open_page("/ui/decide/warranty")
    fill_warranty(page, purchase_date="2027-01-05")  # after the decision date
    submit(page)
    field = page.locator('.field[data-field="purchase_date"]')
    message = field.locator(".err")
    assert message.is_visible() and "购买日期不能晚于决策日期" in message.inner_text()
    date_input = page.get_by_label("购买日期")
    assert date_input.get_attribute("aria-invalid") == "true"
    assert "e-purchase_date" in date_input.get_attribute("aria-describedby")
    assert date_input.input_value() == "2027-01-05"
    assert page.locator("#result").count() == 0
    shot(page, "decide-warranty-invalid")


def test_a_stored_decision_opens_by_its_id(open_page, server):
    body = {"case": {"product_line": "national_sanbao", "product_category": "washing_machine",
                     "purchase_date": "2026-06-18", "price": "3299.00", "fault_cause": "manufacturing",
                     "request": "return", "repairs_same_fault": 2, "days_in_repair_total": 12},
            "as_of": "2026-11-25", "explain": "full"}
    req = urllib.request.Request(server.url + "/v1/decisions/warranty", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        decision = json.loads(r.read())
    page = open_page(f"/ui/decisions/{decision['decision_id']}")
    assert page.get_by_test_id("headline").inner_text() == "退货退款 ¥3,054.87"
    assert page.get_by_test_id("permalink").inner_text() == decision["decision_id"]
    assert page.get_by_label("购买日期").input_value() == "2026-06-18"  # the logged case, in the form
    shot(page, "decision-by-id")
    recent = open_page("/ui/decisions?ruleset=warranty")
    assert recent.locator(f'tr[data-id="{decision["decision_id"]}"]').is_visible()
    shot(recent, "recent-decisions")
    recent.locator(f'tr[data-id="{decision["decision_id"]}"] a').click()
    recent.wait_for_url(f"**/ui/decisions/{decision['decision_id']}")


def test_the_sla_page_draws_a_timeline_with_holidays(open_page):
    for viewport, tag in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = open_page("/ui/sla", viewport)
        page.get_by_label("事项类别").select_option("repair")
        page.get_by_label("接到服务要求（报修、投诉、故障）的时间").fill("2026-09-29T14:30")
        page.get_by_label("实际响应时间").fill("2026-09-29T16:05")
        page.get_by_label("实际上门鉴定时间").fill("2026-09-30T15:20")
        page.get_by_label("实际到达现场时间").fill("2026-09-30T15:20")
        page.get_by_label("到服务现场的路程").fill("420")
        page.get_by_label("需要配件解决").check()
        page.get_by_label("售后服务部仓库有配件").uncheck()
        page.get_by_label("决策时点（北京时间）").fill("2026-10-12T09:00")
        submit(page)
        svg = page.get_by_role("img", name="时限时间轴")
        assert svg.is_visible()
        assert svg.locator("rect.holiday").count() >= 7  # the National Day holiday, 10月1日–7日
        assert "按时" in svg.inner_html() and "进行中" in svg.inner_html()
        assert fits_the_width(page)  # the picture scrolls inside its box on a phone
        shot(page, f"sla-timeline-{tag}")


def test_the_rules_page_and_the_english_switch(open_page):
    page = open_page("/ui/rules/scrap_pricing")
    row = page.locator("tr#rule-SP-306")
    assert "处理价不低于市场价的85%" in row.inner_text() and "§ 7.2.2" in row.inner_text()
    shot(page, "rules-scrap_pricing")
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**lang=en")
    assert page.get_by_role("columnheader", name="Covered by rule tests").first.is_visible()
    assert "✓ covered" in page.locator("tr#rule-SP-306").inner_text()
    shot(page, "rules-scrap_pricing-en")
    phone = open_page("/ui/rules/warranty", PHONE)
    assert fits_the_width(phone)
    shot(phone, "rules-warranty-phone")
