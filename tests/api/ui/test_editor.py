"""The rules editor (api/ui/editor.py) through Flask's test client: the form of the active release's
values, the check as one types, the preview of the edited version's evidence, and the draft release it
saves. The browser walks the same pages in tests/e2e/test_editor_browser.py."""
import io
import re

import pytest
from openpyxl import load_workbook

from tests.api.ui.test_release_pages import (  # noqa: F401
    ALICE,
    AUDIT,
    DESK,
    SCRAP_CASE,
    app,
    client_of,
    gov,
)
from tests.api.ui.test_ui import text

EDIT = "/ui/rules/scrap_pricing/edit"


@pytest.fixture
def alice(app):  # noqa: F811
    return client_of(app, ALICE)


def form_of(html: str) -> dict:
    """The editor form's fields as the page sends them (inputs only: the buttons add `do`)."""
    form = re.search(r'<form method="post" action="[^"]*/edit" id="editor".*?</form>', html, re.DOTALL)[0]
    return {n: v.replace("&amp;", "&").replace("&#34;", '"').replace("&gt;", ">").replace("&lt;", "<")
            .replace("&#39;", "'")
            for n, v in re.findall(r'<input type="(?:hidden|text)"[^>]*?name="([^"]+)" value="([^"]*)"', form)}


def scrap_decisions(app, n=2):  # noqa: F811
    client = app.test_client()
    for _ in range(n):
        r = client.post("/v1/decisions/scrap_pricing", json={"case": SCRAP_CASE, "as_of": "2026-11-25"},
                        headers={"Authorization": f"Bearer {DESK}"})
        assert r.status_code == 200, text(r)


def test_an_author_opens_the_editor_from_the_rules_page_and_sees_the_active_values(alice, app):  # noqa: F811
    assert f'href="{EDIT}"' in text(alice.get("/ui/rules/scrap_pricing"))
    html = text(alice.get(EDIT))
    fields = form_of(html)
    assert fields["base"] == "r1" and fields["p|floor_ratio"] == "0.85"
    assert fields["order|SP-AP"] == "SP-AP.1 SP-AP.2 SP-AP.3"
    assert fields["c|SP-AP|SP-AP.1|0"] == "> leader_threshold" and fields["c|SP-AP|SP-AP.1|1"] == "company_leader"
    assert "正常处理价不低于市场价的比例" in html and "按一次性处理原值确定审批权限" in html
    warranty = form_of(text(alice.get("/ui/rules/warranty/edit")))
    assert warranty["c|W-PERIOD|W-P6|3"] == "= add_months(purchase_date, general_months)"
    assert warranty["c|W-PERIOD|W-P6|0"] == "general"
    en = text(alice.get(f"{EDIT}?lang=en"))
    assert ">Save as draft</button>" in en and ">Preview</button>" in en and "Upload an edited workbook" in en


def test_the_editor_needs_the_author_role(app):  # noqa: F811
    for token in (DESK, AUDIT):
        c = client_of(app, token)
        assert "/edit" not in text(c.get("/ui/rules/scrap_pricing"))
        assert c.get(EDIT).status_code == 403
        assert c.post(f"{EDIT}/check", data={"p|floor_ratio": "0.80"}).status_code == 403
    assert client_of(app, ALICE).get("/ui/rules/nonesuch/edit").status_code == 404


def test_as_one_types_the_server_names_the_field_and_the_problem(alice):
    base = {"base": "r1"}
    ok = alice.post(f"{EDIT}/check", data=base | {"p|floor_ratio": "0.80"}).get_json()
    assert ok == {"ok": True, "fields": {}, "general": [], "edits": 1}
    bad = alice.post(f"{EDIT}/check", data=base | {"p|floor_ratio": "八成"}).get_json()
    assert bad["ok"] is False and bad["fields"] == {"p|floor_ratio": ["应为数字（原值 0.85）"]}
    cell = alice.post(f"{EDIT}/check", data=base | {"c|SP-AP|SP-AP.1|1": "nobody"}).get_json()
    [message] = cell["fields"]["c|SP-AP|SP-AP.1|1"]
    assert re.match(r"scrap_pricing\.yaml:\d+: 输出 approver：'nobody'", message) and "company_leader" in message
    broken = alice.post(f"{EDIT}/check", data=base | {"c|SP-AP|SP-AP.2|0": "> no_such_parameter"}).get_json()
    assert "no_such_parameter" in broken["fields"]["c|SP-AP|SP-AP.2|0"][0]


def test_a_preview_shows_the_changed_decisions_the_money_and_the_failing_tests(alice, app):  # noqa: F811
    scrap_decisions(app)
    r = alice.post(EDIT, data={"base": "r1", "p|floor_ratio": "0.80", "do": "preview"})
    html = text(r)
    assert r.status_code == 200, html
    preview = re.search(r'data-testid="preview".*', html, re.DOTALL)[0]
    assert "对比的决策：<strong>2</strong>" in preview
    assert '结果改变：<strong data-testid="changed">2</strong>' in preview
    money = re.search(r'data-testid="money">(.*?)</table>', preview, re.DOTALL)[1]
    assert "floor_price" in money and "-¥258.68" in money  # 2 × (2,069.33 − 2,198.67)
    assert re.search(r"✗ 20 未通过", preview) and "floor_price: expected &#39;3400.00&#39;, got &#39;3200.00&#39;" in preview
    assert form_of(html)["p|floor_ratio"] == "0.80"  # the form keeps the edit
    assert app.extensions["aftersales"].governance.list()[0]["id"] == "r1"  # a preview saves nothing


def test_save_as_draft_makes_a_draft_release_with_the_diff_and_nothing_goes_live(alice, gov):  # noqa: F811
    r = alice.post(EDIT, data={"base": "r1", "p|floor_ratio": "0.80", "do": "save", "message": "底价比例 85% → 80%"})
    assert r.status_code == 302 and r.headers["Location"] == "/ui/releases/r2"
    rel = gov.show("r2")
    assert (rel["state"], rel["author"], rel["parent"], rel["message"]) == ("draft", "alice", "r1", "底价比例 85% → 80%")
    assert gov.active() == "r1"
    changes = gov.diff("r1", "r2")["changes"]
    assert [(c["path"], c["old"], c["new"]) for c in changes] == [("parameters.floor_ratio", "0.85", "0.80")]
    old, new = gov.snapshot("r1").files, gov.snapshot("r2").files
    assert new["scrap_pricing.yaml"] == old["scrap_pricing.yaml"].replace("    value: 0.85\n", "    value: 0.80\n")
    assert {k: v for k, v in new.items() if k != "scrap_pricing.yaml"} == \
        {k: v for k, v in old.items() if k != "scrap_pricing.yaml"}
    page = text(alice.get(r.headers["Location"]))
    assert '<tr data-path="parameters.floor_ratio">' in page and "草稿" in page


def test_rows_are_added_removed_and_moved_and_saved_in_the_yaml(alice, gov):  # noqa: F811
    html = text(alice.post(EDIT, data={"base": "r1", "do": "add|SP-AP|SP-AP.1"}))
    fields = form_of(html)
    assert fields["order|SP-AP"] == "SP-AP.1 +1 SP-AP.2 SP-AP.3" and fields["c|SP-AP|+1|0"] == "-"
    fields |= {"id|SP-AP|+1": "SP-AP.0", "title|SP-AP|+1": "原值10万元以上报总经理", "c|SP-AP|+1|0": "> 100000",
               "c|SP-AP|+1|1": "company_leader"}
    fields = form_of(text(alice.post(EDIT, data=fields | {"do": "down|SP-AP|SP-AP.1"})))
    assert fields["order|SP-AP"] == "+1 SP-AP.1 SP-AP.2 SP-AP.3"
    fields = form_of(text(alice.post(EDIT, data=fields | {"do": "remove|SP-AP|SP-AP.3"})))
    assert fields["order|SP-AP"] == "+1 SP-AP.1 SP-AP.2"
    r = alice.post(EDIT, data=fields | {"do": "save", "message": "审批权限：新增一档，删去项目审批"})
    assert r.status_code == 302, text(r)
    yaml = gov.snapshot(r.headers["Location"].rsplit("/", 1)[1]).files["scrap_pricing.yaml"]
    table = yaml[yaml.index("      - table: SP-AP"):yaml.index("      - table: SP-RD")]
    assert re.findall(r"\{id: (SP-AP\.\d)", table) == ["SP-AP.0", "SP-AP.1", "SP-AP.2"]
    assert '{id: SP-AP.0, title: 原值10万元以上报总经理, row: ["> 100000", company_leader]}' in table


def test_a_bad_edit_or_a_missing_message_saves_nothing_and_says_why(alice, gov):  # noqa: F811
    r = alice.post(EDIT, data={"base": "r1", "c|SP-AP|SP-AP.1|1": "nobody", "do": "save", "message": "x"})
    assert r.status_code == 422 and "请先改正标出的问题。" in text(r) and "&#39;nobody&#39;" in text(r)
    r = alice.post(EDIT, data={"base": "r1", "p|floor_ratio": "0.80", "do": "save", "message": " "})
    assert r.status_code == 422 and "保存为草稿需要填写说明。" in text(r)
    r = alice.post(EDIT, data={"base": "r1", "do": "save", "message": "nothing"})
    assert r.status_code == 422 and "没有修改。" in text(r)
    r = alice.post(EDIT, data={"base": "r1", "order|SP-AP": "SP-AP.1", "do": "save", "message": "x"})
    assert r.status_code == 302  # removing two rows is an edit
    added = {"base": "r1", "order|SP-AP": "SP-AP.1 +1 SP-AP.2 SP-AP.3"}
    r = alice.post(EDIT, data=added | {"id|SP-AP|+1": "SP-AP.9", "do": "preview"})
    assert r.status_code == 422 and "请先改正标出的问题。" in text(r)
    checked = alice.post(f"{EDIT}/check", data=added | {"id|SP-AP|+1": "SP-AP.9"}).get_json()
    assert list(checked["fields"]) == ["c|SP-AP|+1|1"] and "approver" in checked["fields"]["c|SP-AP|+1|1"][0]
    for new_id, message in (("", "新行需要规则编号"), ("SP-AP.2", "规则编号 SP-AP.2 已在此表中")):
        checked = alice.post(f"{EDIT}/check", data=added | {"id|SP-AP|+1": new_id}).get_json()
        assert checked["fields"] == {"id|SP-AP|+1": [message]}
    checked = alice.post(f"{EDIT}/check", data={"base": "r1", "order|SP-AP": ""}).get_json()
    assert "its only row" in checked["fields"]["order|SP-AP"][0]
    assert len(gov.list()) == 2


def test_an_edited_workbook_uploaded_becomes_a_draft(alice, gov):  # noqa: F811
    r = alice.get("/ui/rules/scrap_pricing/workbook?base=r1")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(r.data))
    sheet = book["参数"]
    row = next(row for row in sheet.iter_rows() if row[0].value == "floor_ratio")
    row[1].value = 0.8  # as Excel keeps it: a binary float
    out = io.BytesIO()
    book.save(out)
    r = alice.post("/ui/rules/scrap_pricing/upload", content_type="multipart/form-data",
                   data={"base": "r1", "do": "save", "message": "工作簿：底价 80%",
                         "workbook": (io.BytesIO(out.getvalue()), "scrap_pricing.xlsx")})
    assert r.status_code == 302, text(r)
    rid = r.headers["Location"].rsplit("/", 1)[1]
    assert [(c["path"], c["new"]) for c in gov.diff("r1", rid)["changes"]
            if c["kind"] == "parameter"] == [("parameters.floor_ratio", "0.8")]
    r = alice.post("/ui/rules/scrap_pricing/upload", content_type="multipart/form-data",
                   data={"base": "r1", "do": "save", "message": "x", "workbook": (io.BytesIO(b"not a zip"), "a.xlsx")})
    assert r.status_code == 422 and "a.xlsx: " in text(r) and "xlsx" in text(r)


def test_enum_cells_offer_their_codes_with_the_rule_files_labels(alice):
    page = text(alice.get("/ui/rules/warranty/edit"))
    assert 'list="choices-product_line"' in page
    assert '<option value="general">一般产品</option>' in page
