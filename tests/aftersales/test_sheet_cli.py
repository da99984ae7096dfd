"""`aftersales sheet export|import` on the command line (the workbook itself: tests/engine/tooling/
test_workbook.py): a round trip without edits changes nothing, an edited cell is written back, and a
workbook that cannot be read, is too large or names an unknown rule set exits 2 naming it."""
import shutil

import openpyxl

from aftersales.cli import main
from engine.tooling.workbook.import_ import MAX_WORKBOOK_BYTES
from tests.conftest import FLOOR_80, FLOOR_85, RULES


def _rules(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(RULES, folder)
    return folder


def test_export_then_import_changes_nothing_and_an_edited_cell_is_written_back(tmp_path, capsys):
    rules, book = _rules(tmp_path), tmp_path / "scrap.xlsx"
    before = (rules / "scrap_pricing.yaml").read_text(encoding="utf-8")
    assert main(["sheet", "export", "scrap_pricing", str(book), "--rules", str(rules)]) == 0
    assert main(["sheet", "import", "scrap_pricing", str(book), "--rules", str(rules)]) == 0
    assert "scrap_pricing.yaml: no changes" in capsys.readouterr().out
    assert (rules / "scrap_pricing.yaml").read_text(encoding="utf-8") == before

    wb = openpyxl.load_workbook(book)
    sheet = wb.worksheets[0]  # the parameters
    row = next(r for r in sheet.iter_rows() if r[0].value == "floor_ratio")
    row[1].value = 0.8
    wb.save(book)
    assert main(["sheet", "import", "scrap_pricing", str(book), "--rules", str(rules)]) == 0
    assert "scrap_pricing.yaml: lines -1 +1" in capsys.readouterr().out
    assert (rules / "scrap_pricing.yaml").read_text(encoding="utf-8") == \
        before.replace(FLOOR_85, FLOOR_80.replace("0.80", "0.8"))  # the number as the cell holds it


def test_a_workbook_that_cannot_be_read_or_is_too_large_exits_2_naming_it(tmp_path, capsys):
    rules = _rules(tmp_path)
    missing = tmp_path / "missing.xlsx"
    assert main(["sheet", "import", "scrap_pricing", str(missing), "--rules", str(rules)]) == 2
    assert f"{missing}: cannot read: No such file or directory" in capsys.readouterr().err
    huge = tmp_path / "huge.xlsx"
    huge.write_bytes(b"\0" * (MAX_WORKBOOK_BYTES + 10))
    assert main(["sheet", "import", "scrap_pricing", str(huge), "--rules", str(rules)]) == 2
    assert f"larger than {MAX_WORKBOOK_BYTES:,} bytes" in capsys.readouterr().err
    assert main(["sheet", "export", "nope", str(tmp_path / "x.xlsx"), "--rules", str(rules)]) == 2
    assert "no rule set 'nope'" in capsys.readouterr().err
