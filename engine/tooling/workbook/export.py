"""A rule set → the policy workbook: the parameters on one sheet, each decision table and lookup
table on a sheet of its own, with drop-downs for enum columns (code and Chinese label), number
and date formats, frozen headers and the source clauses as a column.

Cells hold what the rule file writes (a test `<= 300`, `-` for any, an expression `= …`, a value),
so an unedited workbook imports to the same bytes (engine.tooling.workbook.import_).
"""
from __future__ import annotations

import io
import re
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from engine.loading.yamlsource import load_yaml
from engine.model import RuleSet
from engine.types import Type

from . import (
    CONDITION,
    DECISION_KIND,
    FIELD_CAPTIONS,
    FIRST_DATA_ROW,
    KEY_ROW,
    KIND_ROW,
    LISTS_SHEET,
    LOOKUP_KIND,
    OUTPUT,
    PARAM_COLUMNS,
    PARAM_HEADER_ROW,
    PARAM_TITLES,
    PARAMS_KIND,
    PARAMS_SHEET,
    ROW_ID,
    ROW_SOURCE,
    ROW_TITLE,
    TABLE_FIELDS,
    TITLE_ROW,
    show_enum,
)
from .yamledit import LOOKUP_KEY, LOOKUP_VALUE, render

FORMATS = {"integer": "0", "decimal": "General", "money": "#,##0.00", "date": "yyyy-mm-dd",
           "datetime": "yyyy-mm-dd hh:mm:ss"}
TEXT = "@"
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
OUTPUT_FILL = PatternFill("solid", fgColor="E2EFDA")
ANY_CELL = "-"
_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
MAX_SHEET_TITLE = 31  # Excel's limit on a sheet's name
WIDE, NARROW = 48, 16  # column widths (characters) of text columns and of cells


def export_workbook(text: str, ruleset: RuleSet) -> bytes:
    """The workbook (xlsx bytes) of the rule file `text`, compiled as `ruleset`."""
    doc = load_yaml(text, ruleset.path)
    book = Workbook()
    lists = _Lists(book)
    _parameters(book.active, doc, ruleset, lists)
    titles = {PARAMS_SHEET}
    for stage in doc.get("stages") or []:
        for spec in stage.get("rules") or []:
            if isinstance(spec, dict) and "table" in spec:
                _decision_table(book.create_sheet(_title(str(spec["table"]), titles)), spec, ruleset, lists)
    for name, spec in (doc.get("tables") or {}).items():
        _lookup_table(book.create_sheet(_title(str(name), titles)), str(name), spec)
    lists.sheet.sheet_state = "hidden"
    book.move_sheet(lists.sheet, offset=len(book.sheetnames))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _title(name: str, taken: set) -> str:
    """A valid sheet name for a table, unique in the workbook (A1/B1 name the table anyway)."""
    base = _SHEET_CHARS.sub("_", name)[:MAX_SHEET_TITLE]
    title, n = base, 1
    while title in taken:
        n += 1
        title = f"{base[:MAX_SHEET_TITLE - len(str(n)) - 1]}~{n}"
    taken.add(title)
    return title


class _Lists:
    """The hidden sheet of drop-down lists: one column per distinct list, reused by every cell."""

    def __init__(self, book: Workbook):
        self.sheet = book.create_sheet(LISTS_SHEET)
        self.ranges: dict[tuple, str] = {}

    def range_of(self, items: tuple) -> str:
        if items not in self.ranges:
            col = get_column_letter(len(self.ranges) + 1)
            for i, item in enumerate(items, start=1):
                self.sheet.cell(i, len(self.ranges) + 1, item).data_type = "s"
            self.ranges[items] = f"{quote_sheetname(LISTS_SHEET)}!${col}$1:${col}${len(items)}"
        return self.ranges[items]

    def validation(self, ws, t: Type | None, condition: bool) -> DataValidation | None:
        """A drop-down for an enum or boolean column; a warning (not a stop) on other text, as a cell
        may also hold a test (`!= repair`, `in [a, b]`) or an expression (`= …`)."""
        if t is None or t.kind not in ("enum", "boolean"):
            return None
        if t.kind == "enum":
            labels = dict(t.labels)
            items = tuple(show_enum(v, labels) for v in t.values)
        else:
            items = ("TRUE", "FALSE")
        if condition:
            items = (ANY_CELL,) + items
        dv = DataValidation(type="list", formula1=self.range_of(items), allow_blank=True, errorStyle="warning",
                            showErrorMessage=True, errorTitle="不在选项中",
                            error="可从列表选择；也可写比较（<= 300、!= repair、in [a, b]）、- 表示任意，或 = 表达式")
        ws.add_data_validation(dv)
        return dv


def _put(ws, row: int, col: int, value, t: Type | None = None, labels: dict | None = None):
    """Write one value as the rule file holds it: numbers and dates typed and formatted, text as
    text (also `= …`, which Excel must not take for a formula)."""
    cell = ws.cell(row, col)
    if isinstance(value, bool):
        cell.value = value
    elif isinstance(value, int):
        cell.value = value
        cell.number_format = FORMATS["integer"]
    elif isinstance(value, Decimal):
        as_float = float(value)
        if Decimal(repr(as_float)) == value:
            cell.value = as_float
            cell.number_format = FORMATS["money" if t is not None and t.kind == "money" else "decimal"]
        else:  # more digits than a spreadsheet number holds: kept exact as text
            cell.value, cell.data_type, cell.number_format = str(value), "s", TEXT
    elif isinstance(value, datetime):
        cell.value = value.replace(tzinfo=None)
        cell.number_format = FORMATS["datetime"]
    elif isinstance(value, date):
        cell.value = value
        cell.number_format = FORMATS["date"]
    elif isinstance(value, list):
        cell.value, cell.data_type, cell.number_format = render(value), "s", TEXT
    elif value is not None:
        text = str(value)
        if t is not None and t.kind == "enum" and labels and text in labels:
            text = show_enum(text, labels)
        cell.value, cell.data_type, cell.number_format = text, "s", TEXT
    return cell


def _header(ws, row: int, values, fill=HEADER_FILL):
    for col, value in enumerate(values, start=1):
        cell = _put(ws, row, col, value)
        cell.font, cell.fill = Font(bold=True), fill


def _parameters(ws, doc, ruleset: RuleSet, lists: _Lists):
    ws.title = PARAMS_SHEET
    _put(ws, 1, 1, PARAMS_KIND).font = Font(bold=True)
    _put(ws, 1, 2, ruleset.name)
    _header(ws, PARAM_HEADER_ROW, PARAM_COLUMNS)
    _header(ws, PARAM_HEADER_ROW + 1, PARAM_TITLES)
    for row, (name, spec) in enumerate((doc.get("parameters") or {}).items(), start=PARAM_HEADER_ROW + 2):
        p = ruleset.parameters.get(str(name))
        t = p.type if p else None
        long_form = isinstance(spec, dict)
        _put(ws, row, 1, str(name))
        _put(ws, row, 2, spec.get("value") if long_form else spec, t, dict(t.labels) if t else None)
        dv = lists.validation(ws, t, condition=False)
        if dv is not None:
            dv.add(ws.cell(row, 2))
        for col, key in enumerate(("title", "source", "reading"), start=3):
            if long_form and key in spec:
                _put(ws, row, col, spec[key]).alignment = Alignment(wrap_text=key == "reading", vertical="top")
    for col, width in zip("ABCDE", (34, NARROW, WIDE, WIDE, 80)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = ws.cell(PARAM_HEADER_ROW + 2, 2)


def _fields(ws, kind: str, name: str, spec, keys):
    _put(ws, 1, 1, kind).font = Font(bold=True)
    _put(ws, 1, 2, name).font = Font(bold=True)
    for key in keys:
        row, col = TABLE_FIELDS[key]
        _put(ws, row, col, FIELD_CAPTIONS[key]).font = Font(bold=True)
        _put(ws, row, col + 1, spec.get(key))


def _decision_table(ws, spec, ruleset: RuleSet, lists: _Lists):
    tid = str(spec["table"])
    _fields(ws, DECISION_KIND, tid, spec, TABLE_FIELDS)
    columns, outputs = [str(c) for c in spec.get("columns") or []], [str(o) for o in spec.get("outputs") or []]
    keys = [ROW_ID, ROW_TITLE] + columns + outputs + [ROW_SOURCE]
    types = [None, None] + [ruleset.fact_types.get(c) for c in columns] + \
            [ruleset.outputs[o].type if o in ruleset.outputs else None for o in outputs] + [None]
    _header(ws, KIND_ROW, ["", ""] + [CONDITION] * len(columns) + [OUTPUT] * len(outputs) + [""])
    _header(ws, KEY_ROW, keys)
    _header(ws, TITLE_ROW, ["编号", "标题（空白：同表）"] + [_fact_title(ruleset, c) for c in columns]
            + [ruleset.outputs[o].title if o in ruleset.outputs else o for o in outputs] + ["来源条款（空白：同表）"])
    for col in range(len(columns) + 3, len(columns) + len(outputs) + 3):
        for row in (KIND_ROW, KEY_ROW, TITLE_ROW):
            ws.cell(row, col).fill = OUTPUT_FILL
    validations = [lists.validation(ws, t, condition=2 <= i < 2 + len(columns)) if i >= 2 else None
                   for i, t in enumerate(types)]
    for r, item in enumerate(spec.get("rows") or [], start=FIRST_DATA_ROW):
        own = item if isinstance(item, dict) else {}
        cells = own.get("row", []) if isinstance(item, dict) else item
        values = [own.get("id") or f"{tid}.{r - FIRST_DATA_ROW + 1}", own.get("title")] + \
            list(cells) + [own.get("source")]
        for c, (value, t) in enumerate(zip(values, types), start=1):
            _put(ws, r, c, value, t, dict(t.labels) if t is not None else None)
            if validations[c - 1] is not None:
                validations[c - 1].add(ws.cell(r, c))
    widths = [NARROW, WIDE] + [max(NARROW, min(WIDE, len(k) + 4)) for k in columns + outputs] + [WIDE]
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = width
    ws.freeze_panes = ws.cell(FIRST_DATA_ROW, 2)


def _fact_title(ruleset: RuleSet, column: str) -> str:
    """The Chinese title of a condition column that is one input or output; else the column itself."""
    if column in ruleset.inputs:
        return ruleset.inputs[column].title or column
    if column in ruleset.outputs:
        return ruleset.outputs[column].title or column
    return column


def _lookup_table(ws, name: str, spec):
    _fields(ws, LOOKUP_KIND, name, spec, ("title", "source"))
    rows = spec.get("rows") or {}
    columned = all(isinstance(v, dict) for v in rows.values())
    columns = list(dict.fromkeys(k for v in rows.values() for k in v)) if columned else [LOOKUP_VALUE]
    _header(ws, KEY_ROW, [LOOKUP_KEY] + [str(c) for c in columns])
    _header(ws, TITLE_ROW, ["键"] + (["值"] if not columned else [str(c) for c in columns]))
    for r, (key, value) in enumerate(rows.items(), start=FIRST_DATA_ROW):
        _put(ws, r, 1, key)
        for c, column in enumerate(columns, start=2):
            _put(ws, r, c, value.get(column) if columned else value)
    ws.column_dimensions["A"].width = 24
    ws.freeze_panes = ws.cell(FIRST_DATA_ROW, 2)
