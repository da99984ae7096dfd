"""The policy workbook: a rule set's parameters and tables as an Excel workbook a policy owner
edits (`export`), written back into the YAML without touching anything else (`import_`, through
`yamledit`, which the rules editor of the web pages uses too).

The layout, shared by both directions. Every sheet names what it holds in its first cells (A1: the
kind, B1: the name), so import never relies on a sheet's title, which Excel limits to 31 characters.
"""
from __future__ import annotations

PARAMS_SHEET = "参数"
LISTS_SHEET = "选项"
"""The hidden sheet holding the drop-down lists (a list written into a validation is limited to 255
characters, the product categories of the warranty rule set alone are longer)."""
PARAMS_KIND, DECISION_KIND, LOOKUP_KIND = "参数 parameters", "决策表 table", "查找表 lookup"
PARAM_COLUMNS = ("key", "value", "title", "source", "reading")
PARAM_TITLES = ("名称", "值", "标题", "来源条款", "解读")
PARAM_HEADER_ROW = 3
"""Parameters: A1/B1 the kind and rule set, row 3 the column keys, row 4 their Chinese titles."""
TABLE_FIELDS = {"title": (1, 3), "source": (2, 3), "hit": (2, 1), "effective_from": (3, 1), "effective_to": (3, 3)}
"""A table's own keys: (row, column) of the cell holding each, with its caption in the cell to the left."""
FIELD_CAPTIONS = {"title": "标题 title", "source": "来源条款 source", "hit": "命中策略 hit",
                  "effective_from": "生效日 effective_from", "effective_to": "失效日 effective_to"}
KIND_ROW, KEY_ROW, TITLE_ROW = 4, 5, 6
"""Table sheets: row 4 says which columns are conditions and which outputs, row 5 holds the keys
import reads (the column as the rule file writes it), row 6 their Chinese titles; data from row 7."""
FIRST_DATA_ROW = 7
ROW_ID, ROW_TITLE, ROW_SOURCE = "id", "title", "source"
CONDITION, OUTPUT = "条件 condition", "结论 output"


def show_enum(code: str, labels: dict) -> str:
    """An enum code as a cell shows it: `electronics（投影机等电子产品）`, or the code without a label."""
    label = labels.get(code)
    return f"{code}（{label}）" if label and label != code else code
