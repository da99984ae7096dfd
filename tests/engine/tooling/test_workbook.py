"""The policy workbook: export → import gives the rule file back byte for byte (also after
LibreOffice re-saved it), an edited workbook gives the expected YAML diff and a valid rule set, a bad
cell is named `sheet!B7`, and the YAML edits the rules editor shares keep every other byte."""
from __future__ import annotations

import difflib
import io
import os
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from engine.loading.compiler import compile_ruleset
from engine.rulebook import read_calendar
from engine.tooling.workbook import yamledit
from engine.tooling.workbook.export import export_workbook
from engine.tooling.workbook.import_ import (
    MAX_UNPACKED_BYTES,
    WorkbookError,
    import_workbook,
)

RULES = Path(__file__).resolve().parents[3] / "rules"
RULESETS = ("depreciation", "scrap_pricing", "sla", "warranty")
CALENDAR = read_calendar(RULES / "calendar.yaml")


def _text(name: str) -> str:
    return (RULES / f"{name}.yaml").read_text(encoding="utf-8")


def _export(name: str) -> bytes:
    text = _text(name)
    return export_workbook(text, compile_ruleset(RULES / f"{name}.yaml", CALENDAR, text))


def _import(name: str, data: bytes) -> str:
    return import_workbook(_text(name), data, RULES / f"{name}.yaml", CALENDAR)


def _diff(old: str, new: str) -> list[str]:
    return [line for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def _edited(name: str, edit) -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(_export(name)))
    edit(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _row_of(ws, value, column: int = 1) -> int:
    return next(c.row for c in ws[openpyxl.utils.get_column_letter(column)] if c.value == value)


@pytest.mark.parametrize("name", RULESETS)
def test_export_then_import_without_edits_is_byte_identical(name):
    assert _import(name, _export(name)) == _text(name)


def test_the_workbook_shows_tables_with_labels_formats_and_frozen_headers():
    book = openpyxl.load_workbook(io.BytesIO(_export("warranty")))
    assert book.sheetnames[:4] == ["参数", "W-PERIOD", "W-CAR-SANBAO", "W-160"]
    assert book["选项"].sheet_state == "hidden"
    ws = book["W-PERIOD"]
    assert (ws["A1"].value, ws["B1"].value, ws["A2"].value, ws["B2"].value) == \
        ("决策表 table", "W-PERIOD", "命中策略 hit", "first")
    assert [c.value for c in ws[5]] == ["id", "title", "product_line", "procurement", "item",
                                        "warranty_ends_on", "source"]
    row = _row_of(ws, "W-P1-MAIN")
    assert ws.cell(row, 3).value.startswith("electronics（")  # the code with its Chinese label
    assert ws.cell(row, 6).value == "= add_months(purchase_date, electronics_main_unit_months)"
    assert ws.cell(row, 6).data_type == "s"  # text, not an Excel formula
    assert ws.cell(row, 7).value == "000_65a491cc8927a688.txt § 售后服务指南 四.1"
    assert ws.freeze_panes == "B7"
    lists = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    product_line = next(dv for ref, dv in lists.items() if f"C{row}" in ref.split())
    assert product_line.type == "list" and product_line.formula1.startswith("'选项'!")
    params = book["参数"]
    r = _row_of(params, "car_compensation_rate_max")
    assert params.cell(r, 2).value == 0.005 and params.cell(r, 4).value.startswith("《家用汽车产品")
    assert params.cell(_row_of(params, "car_rules_in_force_from"), 2).number_format == "yyyy-mm-dd"


def test_edited_parameter_cell_added_and_removed_rows_give_the_expected_diff():
    def edit(book):
        params = book["参数"]
        params.cell(_row_of(params, "general_months"), 2).value = 24
        ws = book["W-PERIOD"]
        ws.cell(_row_of(ws, "W-P1-ACC"), 6).value = "= add_months(purchase_date, 12)"
        ws.delete_rows(_row_of(ws, "W-P3"))
        ws.append(["W-P7", "家用汽车按交付日起算", "household_car（家用汽车）", "-", "-", "= add_years(car_start, 3)",
                   "《家用汽车产品修理更换退货责任规定》（市场监管总局令第43号） 包修期和三包有效期"])
    new = _import("warranty", _edited("warranty", edit))
    assert _diff(_text("warranty"), new) == [
        "-    value: 12",
        "+    value: 24",
        '-            row: [electronics, retail, accessory, "= add_months(purchase_date, electronics_accessory_months)"]',
        '+            row: [electronics, retail, accessory, "= add_months(purchase_date, 12)"]',
        "-          - id: W-P3",
        "-            title: 自使用起一年以内或自出厂之日起二年以内",
        "-            source: 000_65a491cc8927a688.txt § Q/HL.801.029-2017 2.1",
        '-            row: [industrial, "-", "-", "= industrial_ends_on"]',
        "+          - id: W-P7",
        "+            title: 家用汽车按交付日起算",
        "+            source: 《家用汽车产品修理更换退货责任规定》（市场监管总局令第43号） 包修期和三包有效期",
        '+            row: [household_car, "-", "-", "= add_years(car_start, 3)"]',
    ]
    rules = compile_ruleset(RULES / "warranty.yaml", CALENDAR, new)
    assert rules.parameters["general_months"].value == 24
    assert "W-P7" in {r.id for r in rules.rules} and "W-P3" not in {r.id for r in rules.rules}


def test_a_row_without_id_gets_the_next_one_and_rows_keep_the_sheet_order():
    def edit(book):
        ws = book["SP-AP"]
        ws.move_range(f"A{_row_of(ws, 'SP-AP.3')}:F{_row_of(ws, 'SP-AP.3')}", rows=1)
        ws.cell(_row_of(ws, "SP-AP.3") - 1, 2).value = "原值超过1亿元"  # the freed row: a new row, no id
        ws.cell(_row_of(ws, "SP-AP.3") - 1, 3).value = "> 100000000"
        ws.cell(_row_of(ws, "SP-AP.3") - 1, 4).value = "company_leader（公司主管领导）"
    new = _import("scrap_pricing", _edited("scrap_pricing", edit))
    rules = compile_ruleset(RULES / "scrap_pricing.yaml", CALENDAR, new)
    table = [r for r in rules.rules if r.table == "SP-AP"]
    assert [r.id for r in table] == ["SP-AP.1", "SP-AP.2", "SP-AP.4", "SP-AP.3"]
    assert '          - {id: SP-AP.4, title: 原值超过1亿元, row: ["> 100000000", company_leader]}' in new.splitlines()


def test_bad_cells_are_named_by_sheet_and_cell():
    def edit(book):
        ws = book["W-160"]
        ws.cell(_row_of(ws, "W-162"), 3).value = "nonsense"
        params = book["参数"]
        params.cell(_row_of(params, "general_months"), 2).value = None
        params.cell(params.max_row + 1, 1).value = "new_parameter"
    with pytest.raises(WorkbookError) as e:
        _import("warranty", _edited("warranty", edit))
    r = _row_of(openpyxl.load_workbook(io.BytesIO(_export("warranty")))["参数"], "general_months")
    assert f"参数!B{r}: parameter general_months needs a value" in e.value.problems
    assert any(p.startswith("参数!A") and "no parameter 'new_parameter'" in p for p in e.value.problems)

    def only_cell(book):
        ws = book["W-160"]
        ws.cell(_row_of(ws, "W-162"), 3).value = "nonsense"
    with pytest.raises(WorkbookError) as e:
        _import("warranty", _edited("warranty", only_cell))
    assert len(e.value.problems) == 1
    assert e.value.problems[0].startswith("W-160!C8: [W-162] 'nonsense' is not a value of product_class")


def test_not_a_workbook_and_a_zip_bomb_are_refused_clearly():
    with pytest.raises(WorkbookError, match="not an .xlsx workbook"):
        _import("warranty", b"product_line,item\nelectronics,main_unit\n")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", b"<" + b" " * (MAX_UNPACKED_BYTES + 1))
    assert len(bomb.getvalue()) < 200_000
    with pytest.raises(WorkbookError, match="unpacks to"):
        _import("warranty", bomb.getvalue())
    with pytest.raises(WorkbookError, match="rule set 'sla', not 'warranty'"):
        _import("warranty", _export("sla"))


def _soffice() -> str:
    found = shutil.which("soffice")
    if found is None:
        reason = "LibreOffice (soffice) is not installed: bash tests/office_setup.sh"
        if os.environ.get("AFTERSALES_REQUIRE_OFFICE"):
            pytest.fail(f"{reason} (AFTERSALES_REQUIRE_OFFICE is set: `make test` runs this test)")
        pytest.skip(reason)
    return found


def test_a_workbook_resaved_by_libreoffice_imports_identically(tmp_path):
    soffice = _soffice()
    saved = tmp_path / "excel"
    saved.mkdir()
    for name in RULESETS:
        (saved / f"{name}.xlsx").write_bytes(_export(name))
    out = tmp_path / "libreoffice"
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/profile",
                    "--convert-to", "xlsx", "--outdir", str(out)] + [str(saved / f"{n}.xlsx") for n in RULESETS],
                   check=True, capture_output=True, timeout=180)
    for name in RULESETS:
        data = (out / f"{name}.xlsx").read_bytes()
        assert data != (saved / f"{name}.xlsx").read_bytes()  # LibreOffice wrote its own file
        assert _import(name, data) == _text(name), name


# --- the YAML edits (shared with the rules editor) ----------------------------------------

def test_yaml_edits_change_only_their_lines():
    text = _text("scrap_pricing")
    assert _diff(text, yamledit.set_parameter(text, "floor_ratio", Decimal("0.80"))) == \
        ["-    value: 0.85", "+    value: 0.80"]
    assert _diff(text, yamledit.set_cell(text, "SP-AP", "SP-AP.1", "original_value", "> 60000")) == [
        '-          - {id: SP-AP.1, title: 原值5万元以上上报公司主管领导审批, row: ["> leader_threshold", company_leader]}',
        '+          - {id: SP-AP.1, title: 原值5万元以上上报公司主管领导审批, row: ["> 60000", company_leader]}']
    moved = yamledit.move_row(text, "SP-AP", "SP-AP.3", "SP-AP.1")
    assert [r.id for r in compile_ruleset(RULES / "scrap_pricing.yaml", CALENDAR, moved).rules
            if r.table == "SP-AP"] == ["SP-AP.3", "SP-AP.1", "SP-AP.2"]
    assert sorted(moved.splitlines()) == sorted(text.splitlines())
    removed = yamledit.remove_row(text, "SP-AP", "SP-AP.2")
    assert len(_diff(text, removed)) == 1 and _diff(text, removed)[0].startswith("-          - {id: SP-AP.2,")


@pytest.mark.parametrize("call, message", [
    (lambda t: yamledit.set_parameter(t, "floor_ration", 1), "no parameter 'floor_ration' in the rule file — did you mean 'floor_ratio'?"),
    (lambda t: yamledit.set_parameter(t, "floor_ratio", 0.8), "0.8 is a binary float"),
    (lambda t: yamledit.set_cell(t, "SP-AP", "SP-AP.9", "approver", "project"), "table SP-AP: no row 'SP-AP.9'"),
    (lambda t: yamledit.set_cell(t, "SP-AP", "SP-AP.1", "approvr", "project"), "table SP-AP: no column 'approvr'"),
    (lambda t: yamledit.add_row(t, "SP-AP", {"id": "SP-AP.1", "approver": "project"}, None), "a row 'SP-AP.1' exists"),
    (lambda t: yamledit.add_row(t, "SP-AP", {"original_value": "> 1"}, None), "needs a value for output approver"),
    (lambda t: yamledit.remove_row(t, "SP-XX", "SP-AP.1"), "no decision table or lookup table 'SP-XX'"),
    (lambda t: yamledit.set_parameter(t[:200] + "\n  - [", "floor_ratio", 1), "the rule file does not read"),
])
def test_yaml_edits_refuse_a_bad_edit_naming_it(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        call(_text("scrap_pricing"))
