"""The release pages (api/ui/releases.py) through Flask's test client: the list, a release's diff and
evidence, and the buttons each person may press. The browser walks the same pages in
tests/e2e/test_release_pages_browser.py."""
import re
import shutil
from datetime import datetime, timedelta

import pytest

from api.settings import Token
from engine.types import CHINA
from releases.governance import Actor
from releases.snapshot import Snapshot
from tests.api.test_api import make_app
from tests.api.ui.test_ui import FormClient, login, text
from tests.conftest import RULES

ALICE, BOB, CAROL, AUDIT, DESK = ("alice-token-0123456789", "bob-token-0123456789", "carol-token-0123456789",
                                  "audit-token-0123456789", "desk-token-0123456789")
TOKENS = {ALICE: Token("alice", frozenset({"author"})), BOB: Token("bob", frozenset({"approver"})),
          CAROL: Token("carol", frozenset({"author", "approver"})), AUDIT: Token("auditor", frozenset({"audit"})),
          DESK: Token("desk", frozenset({"decide"}))}
FLOOR = ("    value: 0.85\n", "    value: 0.80\n")  # floor_ratio: changes prices, fails the rule tests
REMOTE_MAX = ("    value: 0.10\n    title: 交通不便利区域下调幅度上限", "    value: 0.12\n    title: 交通不便利区域下调幅度上限")
"""remote_discount_max: the rule tests still pass, so the release can be approved."""
SCRAP_CASE = {"weight_t": "1.6", "market_prices_per_t": ["1500.00", "1700.00", "1650.00"], "region": "湖南",
              "proposed_price": "1500.00", "quotes": 3, "buyer_licence": "trade", "original_value": "62000"}


@pytest.fixture
def app(tmp_path):
    shutil.copytree(RULES, tmp_path / "rules")  # with the rule tests: the evidence runs them
    app = make_app(tmp_path, dict(TOKENS))
    app.extensions["aftersales"].governance.background = False  # the evidence is there when submit returns
    app.test_client_class = FormClient
    return app


@pytest.fixture
def gov(app):
    return app.extensions["aftersales"].governance


def client_of(app, token):
    c = app.test_client()
    login(c, token)
    return c


def release(gov, edit=FLOOR, author="alice", roles=("author",), submit=False) -> str:
    """A release by `author` editing scrap_pricing.yaml of the active release; its id."""
    files = dict(gov.snapshot(gov.active()).files)
    assert files["scrap_pricing.yaml"].count(edit[0]) == 1
    files["scrap_pricing.yaml"] = files["scrap_pricing.yaml"].replace(*edit)
    actor = Actor(author, frozenset(roles))
    rid = gov.create(actor, Snapshot(files), "底价比例调整")["id"]
    if submit:
        gov.submit(actor, rid)
    return rid


def actions(html: str) -> set:
    return set(re.findall(r'class="release-action" data-action="(\w+)"', html))


def test_the_list_shows_each_state_in_words_and_marks_the_active_release(app, gov):
    draft = release(gov)
    submitted = release(gov, REMOTE_MAX, submit=True)
    c = client_of(app, AUDIT)
    html = text(c.get("/ui/releases"))
    rows = dict(re.findall(r'<tr data-id="(r\d+)" data-state="(\w+)"', html))
    assert rows == {"r1": "active", draft: "draft", submitted: "submitted"}
    assert "生效中" in html and "草稿" in html and "已提交" in html and "★ 当前生效" in html
    assert "底价比例调整" in html and "alice" in html
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d{1,2}:\d{2}", html)  # Babel, China time
    assert '<a href="/ui/releases">规则发布</a>' in html  # in the navigation
    en = text(c.get("/ui/releases?lang=en"))
    assert ">Active</span>" in en and ">Draft</span>" in en and ">Submitted</span>" in en


def test_the_releases_need_a_role_that_reads_them(app):
    desk = client_of(app, DESK)
    assert desk.get("/ui/releases").status_code == 403 and desk.get("/ui/releases/r1").status_code == 403
    assert "规则发布" not in text(desk.get("/ui/"))  # not in the navigation either
    assert client_of(app, ALICE).get("/ui/releases").status_code == 200


def test_a_release_page_shows_the_edited_parameter_in_words_with_its_file_and_line(app, gov):
    rid = release(gov)
    html = text(client_of(app, AUDIT).get(f"/ui/releases/{rid}"))
    row = re.search(r'<tr data-path="parameters.floor_ratio">(.*?)</tr>', html, re.DOTALL)[1]
    line = gov.snapshot(rid).files["scrap_pricing.yaml"].split("value: 0.80")[0].count("\n") + 1
    assert "参数" in row and "正常处理价不低于市场价的比例" in row and "修改" in row
    assert ">0.85</td>" in row and ">0.80</td>" in row and f"scrap_pricing.yaml:{line}" in row
    assert "<h3>scrap_pricing" in html and "草稿" in html


def test_the_evidence_shows_failed_rule_tests_and_the_money_the_release_moves(app, gov):
    client = app.test_client()
    for _ in range(2):
        r = client.post("/v1/decisions/scrap_pricing", json={"case": SCRAP_CASE, "as_of": "2026-11-25"},
                        headers={"Authorization": f"Bearer {DESK}"})
        assert r.status_code == 200, text(r)
    rid = release(gov, submit=True)
    html = text(client_of(app, AUDIT).get(f"/ui/releases/{rid}"))
    assert "不能批准：规则无法加载或规则测试未通过。" in html
    assert re.search(r'✓ \d+ 通过</span> ·\s*<span class="no">✗ 20 未通过', html)
    assert ("<code>tests/scrap_pricing/pricing.yaml:4</code> 几种等级的金属折中报价（两级平均）："
            "floor_price: expected &#39;3400.00&#39;, got &#39;3200.00&#39;") in html
    assert "对比的决策：<strong>2</strong>" in html and "结果改变：<strong>2</strong>" in html
    money = re.search(r'data-testid="money">(.*?)</table>', html, re.DOTALL)[1]
    assert "floor_price" in money and "-¥258.68" in money  # 2 × (2,069.33 − 2,198.67)
    assert "floor_price</span>：2198.67 → 2069.33" in html  # an example, linked to its decision page
    events = re.findall(r'<tr data-action="([\w-]+)">', html)
    assert events == ["created", "submitted", "evidence"] and "检验完成" in html


def test_while_the_evidence_runs_the_page_shows_its_progress_and_refreshes(app, gov):
    rid = release(gov)
    gov.store.transition(rid, ("draft",), "submitted", actor="alice", action="submitted", evidence_state="running")
    gov.store.set_evidence(rid, "running", {"step": "impact", "done": 500, "total": 2000})
    html = text(client_of(app, AUDIT).get(f"/ui/releases/{rid}"))
    assert '<meta http-equiv="refresh" content="2">' in html
    assert re.search(r"正在检验：对比历史决策\s*500/2000", html)


def test_the_author_sees_submit_not_approve_and_submits_from_the_page(app, gov):
    rid = release(gov, REMOTE_MAX)
    c = client_of(app, ALICE)
    assert actions(text(c.get(f"/ui/releases/{rid}"))) == {"submit"}
    r = c.post(f"/ui/releases/{rid}/submit", data={})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/ui/releases/{rid}?done=submitted")
    html = text(c.get(r.headers["Location"]))
    assert "已提交，正在检验。" in html and 'data-testid="state">已提交<' in html
    assert "可以批准：规则能加载，规则测试全部通过。" in html
    assert actions(html) == set()  # an author only: nothing more to press


def test_approving_your_own_release_shows_the_maker_checker_message(app, gov):
    rid = release(gov, REMOTE_MAX, author="carol", roles=("author", "approver"), submit=True)
    c = client_of(app, CAROL)
    assert "approve" not in actions(text(c.get(f"/ui/releases/{rid}")))
    r = c.post(f"/ui/releases/{rid}/approve", data={"reason": "看过了"})
    assert r.status_code == 403
    html = text(r)
    assert f"carol made release {rid}: a release is approved by a different person" in html
    assert 'data-testid="state">已提交<' in html and gov.show(rid)["status"] == "submitted"


def test_reject_needs_a_reason_and_a_form_without_csrf_is_refused(app, gov):
    rid = release(gov, REMOTE_MAX, submit=True)
    c = client_of(app, BOB)
    r = c.post(f"/ui/releases/{rid}/reject", data={"reason": " "})
    assert r.status_code == 422 and "reason is required" in text(r)
    r = c.post(f"/ui/releases/{rid}/reject", data={"reason": "x", "csrf": "forged"})
    assert r.status_code == 400 and gov.show(rid)["status"] == "submitted"
    assert c.post(f"/ui/releases/{rid}/reject", data={"reason": "比例过宽"}).status_code == 302
    html = text(c.get(f"/ui/releases/{rid}"))
    assert 'data-testid="state">已驳回<' in html and "比例过宽" in html and "驳回" in html


def test_an_approver_approves_and_activates_from_the_page(app, gov):
    rid = release(gov, REMOTE_MAX, submit=True)
    c = client_of(app, BOB)
    assert actions(text(c.get(f"/ui/releases/{rid}"))) == {"approve", "reject"}
    r = c.post(f"/ui/releases/{rid}/approve", data={"reason": "测试通过，影响为零"})
    assert r.status_code == 302, text(r)
    html = text(c.get(r.headers["Location"]))
    assert "已批准。" in html and 'data-testid="state">已批准<' in html and actions(html) == {"activate"}
    r = c.post(f"/ui/releases/{rid}/activate", data={"at": "", "reason": ""})
    assert r.status_code == 302, text(r)
    html = text(c.get(r.headers["Location"]))
    assert 'data-testid="state">生效中<' in html and gov.active() == rid
    listing = text(c.get("/ui/releases"))
    assert f'data-id="{rid}" data-state="active"' in listing and 'data-id="r1" data-state="superseded"' in listing
    # the earlier release can be rolled back to, from its page
    assert actions(text(c.get("/ui/releases/r1"))) == {"rollback"}
    assert c.post("/ui/releases/r1/rollback", data={"reason": "回退"}).status_code == 302
    assert gov.active() == "r1"


def test_a_scheduled_activation_at_a_china_time_and_a_bad_time_named(app, gov):
    rid = release(gov, REMOTE_MAX, submit=True)
    gov.approve(Actor("bob", frozenset({"approver"})), rid, None)
    c = client_of(app, BOB)
    r = c.post(f"/ui/releases/{rid}/activate", data={"at": "2026-13-01T10:00"})
    assert r.status_code == 422 and "at: " in text(r) and 'data-testid="refusal"' in text(r)
    at = (datetime.now(CHINA) + timedelta(days=2)).replace(second=0, microsecond=0)
    r = c.post(f"/ui/releases/{rid}/activate", data={"at": at.strftime("%Y-%m-%dT%H:%M")})
    assert r.status_code == 302, text(r)
    html = text(c.get(f"/ui/releases/{rid}"))
    assert 'data-testid="state">已排期<' in html and f"{at.year}年{at.month}月{at.day}日 {at:%H:%M}" in html
    assert gov.active() == "r1"


def test_an_unknown_release_or_action_is_a_404_page(app):
    c = client_of(app, AUDIT)
    r = c.get("/ui/releases/r999")
    assert r.status_code == 404 and "no release &#39;r999&#39;" in text(r)
    assert c.post("/ui/releases/r1/explode", data={}).status_code == 404
