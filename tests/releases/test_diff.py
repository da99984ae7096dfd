"""The release diff: what a policy owner reads before approving a release (issue 12, "Diff")."""
import json
from decimal import Decimal
from pathlib import Path

import pytest

from releases import diff as diff_module
from releases.diff import diff, format_text
from releases.snapshot import Snapshot, read_folder

RULES = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture(scope="module")
def shipped() -> Snapshot:
    return read_folder(RULES)


def edited(snap: Snapshot, **edits) -> Snapshot:
    """A copy of `snap` with files replaced: name (with `__` for `/` and `_yaml` for `.yaml`) → function of the text."""
    files = dict(snap.files)
    for key, edit in edits.items():
        name = key.replace("__", "/").replace("_yaml", ".yaml")
        files[name] = edit(files.get(name))
    return Snapshot(files)


def replace_once(old: str, new: str):
    def edit(text):
        assert text.count(old) == 1, f"{old!r} is not in the file exactly once"
        return text.replace(old, new)
    return edit


def line_of(text: str, needle: str, after: str = "") -> int:
    start = text.index(after) if after else 0
    return text[:text.index(needle, start)].count("\n") + 1


def item(ruleset, kind, change, path, title, old, new, line):
    return {"ruleset": ruleset, "kind": kind, "change": change, "path": path, "title": title,
            "old": old, "new": new, "line": line}


def test_identical_snapshots_have_no_changes(shipped):
    d = diff(shipped, Snapshot(dict(shipped.files)))
    assert d["changes"] == []
    assert d["summary"] == {"changes": 0, "omitted": 0, "rulesets": {}}
    assert d["from"] == d["to"] == shipped.digest
    assert format_text(d) == "无变更 (no changes)"


def test_a_parameter_value_is_named_by_key_and_title_with_its_exact_decimal(shipped):
    new = edited(shipped, scrap_pricing_yaml=replace_once("    value: 0.85\n", "    value: 0.80\n"))
    d = diff(shipped, new)
    line = line_of(new.files["scrap_pricing.yaml"], "value: 0.80", after="floor_ratio:")
    assert d["changes"] == [item("scrap_pricing", "parameter", "changed", "parameters.floor_ratio",
                                 "正常处理价不低于市场价的比例", "0.85", "0.80", line)]
    assert d["summary"] == {"changes": 1, "omitted": 0, "rulesets": {"scrap_pricing": 1}}
    assert format_text(d).splitlines()[0] == (
        f"scrap_pricing  参数 floor_ratio（正常处理价不低于市场价的比例）: 0.85 → 0.80   (scrap_pricing.yaml:{line})")


def test_a_warranty_period_cell_is_named_by_table_row_and_column(shipped):
    old_cell = '"= add_months(purchase_date, general_months)"'
    new_cell = '"= add_months(purchase_date, electronics_main_unit_months)"'
    new = edited(shipped, warranty_yaml=replace_once(old_cell, new_cell))
    d = diff(shipped, new)
    assert d["changes"] == [item(
        "warranty", "cell", "changed", "rules.W-PERIOD.rows.W-P6.cells.warranty_ends_on", "公司销售的产品保修期为一年",
        "= add_months(purchase_date, general_months)", "= add_months(purchase_date, electronics_main_unit_months)",
        line_of(new.files["warranty.yaml"], new_cell, after="id: W-P6"))]
    assert "warranty  单元格 W-PERIOD.rows.W-P6.cells.warranty_ends_on（公司销售的产品保修期为一年）: " \
           "= add_months(purchase_date, general_months) → = add_months(purchase_date, electronics_main_unit_months)" \
           in format_text(d)


def test_an_added_table_row_shows_its_cells_and_the_other_rows_do_not_move(shipped):
    row = ('          - id: SLA-ONSITE.6\n            title: 路程3000公里以外96小时内\n'
           '            row: [true, standard, false, "> 3000", 96]\n')
    new = edited(shipped, sla_yaml=replace_once("          - id: SLA-ONSITE.5\n", row + "          - id: SLA-ONSITE.5\n"))
    d = diff(shipped, new)
    assert d["changes"] == [item(
        "sla", "row", "added", "rules.SLA-ONSITE.rows.SLA-ONSITE.6", "路程3000公里以外96小时内", None,
        {"id": "SLA-ONSITE.6", "title": "路程3000公里以外96小时内", "row": [True, "standard", False, "> 3000", "96"]},
        line_of(new.files["sla.yaml"], "- id: SLA-ONSITE.6"))]
    assert '行 SLA-ONSITE.rows.SLA-ONSITE.6（路程3000公里以外96小时内） 新增: {"row": [true, "standard", false, "> 3000", "96"]}' \
        in format_text(d)


def test_a_removed_rule_points_at_its_line_in_the_old_file(shipped):
    text = shipped.files["warranty.yaml"]
    start, end = text.index("      - id: W-143\n"), text.index("      - id: W-P4-CHOICE\n")
    new = edited(shipped, warranty_yaml=lambda t: t[:start] + t[end:])
    [change] = diff(shipped, new)["changes"]
    assert {k: change[k] for k in ("ruleset", "kind", "change", "path", "title", "new", "line")} == {
        "ruleset": "warranty", "kind": "rule", "change": "removed", "path": "rules.W-143",
        "title": "消费者要求退货的，收取相应的折旧费", "new": None, "line": line_of(text, "- id: W-143")}
    assert change["old"]["when"][-1] == "(not seed_return_needs_exchange_condition) or seed_exchange_condition"
    assert change["old"]["then"] == {"return_entitled": True}


def test_an_enum_value_added_to_an_input_is_one_change_with_its_label(shipped):
    new = edited(shipped, warranty_yaml=replace_once("      consultation: 咨询\n",
                                                     "      consultation: 咨询\n      upgrade: 升级\n"))
    d = diff(shipped, new)
    assert d["changes"] == [item("warranty", "input", "added", "inputs.request.values.upgrade",
                                 "用户诉求（修理／换货／退货／咨询）", None, "升级",
                                 line_of(new.files["warranty.yaml"], "upgrade: 升级"))]


def test_a_relabelled_enum_value_is_one_change_from_the_old_label_to_the_new(shipped):
    new = edited(shipped, scrap_pricing_yaml=replace_once("      give_away: 赠送\n", "      give_away: 无偿赠送\n"))
    d = diff(shipped, new)
    assert d["changes"] == [item("scrap_pricing", "output", "changed", "outputs.disposition.values.give_away",
                                 "处置方式（返司／当地销售／当地销毁／赠送）", "赠送", "无偿赠送",
                                 line_of(new.files["scrap_pricing.yaml"], "give_away: 无偿赠送"))]
    assert "输出 disposition.values.give_away（处置方式（返司／当地销售／当地销毁／赠送））: 赠送 → 无偿赠送" in format_text(d)


def test_enum_values_written_as_a_list_read_as_codes_labelled_by_themselves(shipped):
    """A list and a mapping compare code by code: the same codes and labels are no change, a code
    removed from the list form is a removal, and moving to labels is one relabelling per code."""
    block = "    values:\n      domestic: 国产件\n      imported: 进口件\n"
    as_list = edited(shipped, scrap_pricing_yaml=replace_once(block, "    values: [domestic, imported]\n"))
    same = edited(shipped, scrap_pricing_yaml=replace_once(block, "    values: {domestic: 国产件, imported: 进口件}\n"))
    assert diff(shipped, same)["changes"][0]["path"] == "text"  # layout only
    dropped = edited(as_list, scrap_pricing_yaml=replace_once("[domestic, imported]", "[domestic]"))
    assert [(c["change"], c["path"], c["old"], c["new"]) for c in diff(as_list, dropped)["changes"]] == [
        ("removed", "inputs.origin.values.imported", "imported", None)]
    assert [(c["change"], c["path"], c["old"], c["new"]) for c in diff(as_list, shipped)["changes"]] == [
        ("changed", "inputs.origin.values.domestic", "domestic", "国产件"),
        ("changed", "inputs.origin.values.imported", "imported", "进口件")]
    reordered = edited(shipped, scrap_pricing_yaml=replace_once(block, "    values: {imported: 进口件, domestic: 国产件}\n"))
    assert [(c["change"], c["path"], c["old"], c["new"]) for c in diff(shipped, reordered)["changes"]] == [
        ("changed", "inputs.origin.values", ["domestic", "imported"], ["imported", "domestic"])]


def test_rule_condition_and_outcome_show_old_and_new_text(shipped):
    new = edited(shipped, scrap_pricing_yaml=replace_once(
        "          - quotes < min_quotes\n        then:\n          price_verdict: incomplete\n",
        "          - quotes < min_quotes - 1\n        then:\n          price_verdict: reject\n"))
    text = new.files["scrap_pricing.yaml"]
    title = "变卖报告须注明三家以上废品收购站报价"
    assert diff(shipped, new)["changes"] == [
        item("scrap_pricing", "rule", "changed", "rules.SP-304.when", title,
             "disposition == 'sell_locally' and quotes < min_quotes",
             "disposition == 'sell_locally' and quotes < min_quotes - 1", line_of(text, "when:", after="id: SP-304")),
        item("scrap_pricing", "rule", "changed", "rules.SP-304.then.price_verdict", title, "incomplete", "reject",
             line_of(text, "price_verdict: reject", after="id: SP-304")),
    ]


def test_a_reordered_rule_is_reported_as_moved(shipped):
    def swap(text):
        a, b, c = (text.index(f"      - id: SP-{n}\n") for n in (304, 305, 306))
        return text[:a] + text[b:c] + text[a:b] + text[c:]
    new = edited(shipped, scrap_pricing_yaml=swap)
    assert diff(shipped, new)["changes"] == [
        item("scrap_pricing", "rule", "moved", "rules.SP-305", "未填报处理价", 5, 4,
             line_of(new.files["scrap_pricing.yaml"], "- id: SP-305"))]


def test_hit_policy_lookup_table_cells_and_equal_numbers(shipped):
    new = edited(shipped, warranty_yaml=lambda t: replace_once("hit: unique", "hit: first")(
        replace_once("      colour_tv: {period_months: 12,", "      colour_tv: {period_months: 24,")(
            replace_once("      electronics: 0.001\n", "      electronics: 0.0010\n")(t))))  # same number
    text = new.files["warranty.yaml"]
    assert diff(shipped, new)["changes"] == [
        item("warranty", "cell", "changed", "tables.national_sanbao_catalogue.rows.colour_tv.period_months",
             "实施三包的部分商品目录：三包有效期与折旧率（日）", "12", "24", line_of(text, "colour_tv: {period_months: 24")),
        item("warranty", "table", "changed", "rules.W-160.hit", "按产品特点分类的服务形式", "unique", "first",
             line_of(text, "hit: first", after="table: W-160")),
    ]


def test_calendar_changes_are_days_added_and_removed(shipped):
    def year(holidays, workdays):
        return replace_once("years: {}", f"years:\n  2027:\n    holidays: {holidays}\n    workdays: {workdays}\n")
    old = edited(shipped, calendar_yaml=year("[2027-01-01, 2027-10-01..2027-10-07]", "[]"))
    new = edited(shipped, calendar_yaml=year("[2027-01-01, 2027-10-01..2027-10-06]", "[2027-10-09]"))
    year_old = line_of(old.files["calendar.yaml"], "  2027:")
    year_new = line_of(new.files["calendar.yaml"], "  2027:")
    d = diff(old, new)
    assert d["changes"] == [
        item("calendar", "calendar", "removed", "holidays.2027-10-07", "法定节假日（放假）", "2027-10-07", None, year_old),
        item("calendar", "calendar", "added", "workdays.2027-10-09", "调休上班日", None, "2027-10-09", year_new),
    ]
    assert f"calendar  日历 workdays.2027-10-09（调休上班日） 新增: 2027-10-09   (calendar.yaml:{year_new})" \
        in format_text(d)


def test_rule_test_files_by_their_number_of_cases(shipped):
    text = shipped.files["tests/sla/tiers.yaml"]
    cases = text.count("\n  - name:")
    new = edited(shipped, tests__sla__tiers_yaml=lambda t: t.replace("\n  - name:", "\n  - name: 新", 1))
    [change] = diff(shipped, new)["changes"]
    assert change == item("sla", "tests", "changed", "tests.tiers", "规则测试用例数 (cases)", cases, cases,
                          line_of(text, "\n  - name:") + 1)
    files = {n: t for n, t in shipped.files.items() if n != "tests/sla/tiers.yaml"}
    [change] = diff(shipped, Snapshot(files))["changes"]
    assert (change["change"], change["path"], change["old"], change["new"]) == ("removed", "tests.tiers", cases, None)
    assert "(tests/sla/tiers.yaml:1)" in format_text(diff(shipped, Snapshot(files)))


def test_a_file_that_does_not_parse_is_one_item_not_an_exception(shipped):
    new = edited(shipped, depreciation_yaml=replace_once("inputs:\n  cost: {", "inputs:\n  cost: [{"),
                 sla_yaml=lambda t: "- not\n- a mapping\n")
    d = diff(shipped, new)
    broken_line = line_of(new.files["depreciation.yaml"], "  stock_in_date:")
    assert d["changes"] == [
        item("depreciation", "ruleset", "changed", "", "无法读取 (cannot be read)", None,
             f"depreciation.yaml:{broken_line}:3: YAML syntax: expected ',' or ']', but got '<scalar>'", broken_line),
        item("sla", "ruleset", "changed", "", "无法读取 (cannot be read)", None,
             "sla.yaml:1:1: a rule set file is a mapping (ruleset:, inputs:, stages: …)", 1),
    ]
    assert "depreciation  规则集（无法读取 (cannot be read)）: — → depreciation.yaml:" in format_text(d)


def test_a_comment_only_edit_says_so(shipped):
    new = edited(shipped, sla_yaml=replace_once("# Digest § 0 and § 4", "# Digest section 0 and 4"))
    assert diff(shipped, new)["changes"] == [
        item("sla", "ruleset", "changed", "text", "仅注释或格式变化 (comments or layout only)", None, None,
             line_of(new.files["sla.yaml"], "# Digest section"))]


def test_first_release_lists_every_rule_set_as_added(shipped):
    d = diff(None, shipped)
    added = [(c["ruleset"], c["title"], c["new"]) for c in d["changes"] if c["kind"] == "ruleset"]
    assert added == [("depreciation", "售后服务部库存商品折旧", "2026.1"), ("scrap_pricing", "旧件处置与当地销售定价", "2026.1"),
                     ("sla", "售后服务时限与升级", "2026.1"), ("warranty", "保修、免费与有偿服务、退换货", "2026.1")]
    assert all(c["change"] == "added" for c in d["changes"])
    tests = {n for n in shipped.files if n.startswith("tests/")}
    assert len([c for c in d["changes"] if c["kind"] == "tests"]) == len(tests)
    assert d["from"] is None and d["to"] == shipped.digest
    assert "warranty  规则集（保修、免费与有偿服务、退换货） 新增: 2026.1   (warranty.yaml:1)" in format_text(d)


def test_changes_past_the_bound_are_counted_in_one_last_item(shipped, monkeypatch):
    monkeypatch.setattr(diff_module, "MAX_CHANGES", 3)
    new = edited(shipped, warranty_yaml=lambda t: t.replace("title: ", "title: 新"))
    d = diff(shipped, new)
    total = d["summary"]["changes"]
    assert total > 100 and d["summary"]["rulesets"] == {"warranty": total}
    assert len(d["changes"]) == 4 and d["summary"]["omitted"] == total - 3
    assert d["changes"][-1] == item("", "omitted", "omitted", "", f"另有 {total - 3:,} 项变更未列出 ({total - 3:,} more left out)",
                                    None, total - 3, None)
    assert format_text(d).splitlines()[3] == f"… 另有 {total - 3:,} 项变更未列出 ({total - 3:,} more left out)"


def test_the_diff_is_json_with_numbers_as_text(shipped):
    new = edited(shipped, warranty_yaml=lambda t: t.replace("value: ", "value: 1").replace("title: ", "title: 新"))
    d = diff(shipped, new)

    def walk(v):
        assert isinstance(v, (str, int, bool, list, dict, type(None))) and not isinstance(v, (float, Decimal)), v
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(d)
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d
    assert {"old": "12", "new": "112"}.items() <= next(
        c for c in d["changes"] if c["path"] == "parameters.electronics_main_unit_months").items()
