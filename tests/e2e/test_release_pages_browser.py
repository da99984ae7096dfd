"""The release pages end to end: a real `aftersales serve` with tokens, Debian's Chromium through
Playwright (the fixtures of test_ui_browser.py). A release made and submitted through the workflow
is read on its page, then approved and activated there by an approver. With
AFTERSALES_UPDATE_SCREENSHOTS=1 the list and the release page go to docs/screenshots/
(releases-list.png, release-page.png)."""
import shutil
import signal

import pytest

from db import Database
from releases.governance import Actor, Governance
from releases.snapshot import Snapshot
from releases.store import ReleaseStore

from ..api.ui.test_release_pages import REMOTE_MAX
from ..conftest import RULES
from .test_serve import Server
from .test_ui_browser import DESKTOP, shot

APPROVER = "bob-token-0123456789"
TOKENS = f"alice:alice-token-0123456789:author,bob:{APPROVER}:approver,auditor:audit-token-0123456789:audit"


def serve_with(tmp_path, monkeypatch, tokens: str):
    """A server with `tokens`, and the workflow on its database (the test is another host of it)."""
    shutil.copytree(RULES, tmp_path / "rules")  # with the rule tests: the evidence runs them
    monkeypatch.setenv("AFTERSALES_TOKENS", tokens)
    server = Server(tmp_path, workers=1)
    gov = Governance(ReleaseStore(Database.from_url(None, tmp_path / "var")), background=False)
    yield server, gov
    server.kill(signal.SIGTERM)
    gov.store.close()


@pytest.fixture
def served(tmp_path, monkeypatch):
    yield from serve_with(tmp_path, monkeypatch, TOKENS)


def test_an_approver_reads_the_diff_and_evidence_then_approves_and_activates(browser, served):  # noqa: F811
    server, gov = served
    files = dict(gov.snapshot(gov.active()).files)
    files["scrap_pricing.yaml"] = files["scrap_pricing.yaml"].replace(*REMOTE_MAX)
    alice = Actor("alice", frozenset({"author"}))
    rid = gov.create(alice, Snapshot(files), "偏远地区下调上限放宽到12%")["id"]
    gov.submit(alice, rid)

    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai")
    ctx.set_default_timeout(15_000)
    try:
        page = ctx.new_page()
        page.goto(f"{server.url}/ui/releases/{rid}")
        page.wait_for_url("**/ui/login**")
        page.get_by_label("访问令牌").fill(APPROVER)
        with page.expect_navigation():
            page.get_by_role("button", name="登录").click()
        page.wait_for_url(f"**/ui/releases/{rid}")
        row = page.locator('tr[data-path="parameters.remote_discount_max"]')
        assert "交通不便利区域下调幅度上限" in row.inner_text() and "0.10" in row.inner_text() \
            and "0.12" in row.inner_text()
        evidence = page.get_by_test_id("evidence")
        assert "可以批准：规则能加载，规则测试全部通过。" in evidence.inner_text()
        assert "没有发现问题" in evidence.inner_text() or "检查发现" in evidence.inner_text()
        assert page.get_by_test_id("state").inner_text() == "已提交"
        shot(page, "release-page", "release-page")

        page.get_by_label("理由（选填；有检查发现时必填）").fill("规则测试通过，对历史决策无影响")
        with page.expect_navigation():
            page.get_by_role("button", name="批准").click()
        assert page.get_by_test_id("outcome").inner_text() == "已批准。"
        assert page.get_by_test_id("state").inner_text() == "已批准"
        with page.expect_navigation():
            page.get_by_role("button", name="生效").click()
        assert page.get_by_test_id("state").inner_text() == "生效中"
        assert gov.active() == rid

        page.get_by_role("link", name="规则发布").first.click()
        page.wait_for_url("**/ui/releases")
        active = page.locator(f'tr[data-id="{rid}"]')
        assert "生效中" in active.inner_text() and "当前生效" in active.inner_text()
        assert "已被取代" in page.locator('tr[data-id="r1"]').inner_text()
        shot(page, "releases-list", "releases-list")
    finally:
        ctx.close()
