"""The policy workbook → the rule file: every changed parameter, cell, row and row order written
back through engine.tooling.workbook.yamledit (the rest of the file stays byte for byte), then the
result compiled. Every problem comes back as `sheet!B7: message`, located at the cell it came from.

A workbook is a file from outside: its size, its zip members and their unpacked size are bounded
before openpyxl opens it (read-only), and so are its sheets, rows, columns and the text of a cell.
"""
from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, SequenceNode

from engine.calendar import WorkCalendar
from engine.errors import RulesError
from engine.loading.compiler import compile_ruleset
from engine.loading.yamlsource import load_yaml
from engine.messages import localize
from engine.types import MAX_TEXT

from . import (
    DECISION_KIND,
    FIRST_DATA_ROW,
    KEY_ROW,
    LOOKUP_KIND,
    PARAM_COLUMNS,
    PARAM_HEADER_ROW,
    PARAMS_KIND,
    ROW_ID,
    ROW_SOURCE,
    ROW_TITLE,
    TABLE_FIELDS,
    yamledit,
)
from .export import ANY_CELL

MAX_WORKBOOK_BYTES = 5 * 1024 * 1024
"""An exported workbook of the largest shipped rule set is about 20 KB, and a rule file is at most
1 MiB; a policy owner's additions (formatting, a notes sheet) stay far below this."""
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
"""The members of the xlsx zip together, unpacked (their declared sizes, which zipfile enforces while
reading): a few megabytes of XML compress into kilobytes, a zip bomb into the same."""
MAX_ZIP_MEMBERS = 1_000
"""Files inside the xlsx: a workbook has a dozen plus one per sheet."""
MAX_SHEETS = 200
"""Sheets: one per table of a rule set (the warranty rule set has 6) plus the parameters and lists."""
MAX_ROWS = 2_000
"""Data rows of one sheet: the largest table of the shipped rule sets has 40 rows (the parameters)."""
MAX_COLUMNS = 64
"""Columns read of one sheet: a table has its conditions and outputs (at most 6 in the shipped ones)
plus id, title and source."""
MAX_CELL_TEXT = MAX_TEXT
"""Characters of one cell: the engine's bound on any text value."""
MAX_PROBLEMS = 200
"""Problems reported at once: enough to fix a workbook in one pass, bounded for a hostile one."""


class WorkbookError(Exception):
    """The workbook cannot be imported: each problem is `sheet!B7: message` (or `file:line: …`)."""

    def __init__(self, problems: list[str]):
        self.problems = problems[:MAX_PROBLEMS]
        super().__init__("\n".join(self.problems))


def import_workbook(text: str, data: bytes, path: Path, calendar: WorkCalendar, lang: str = "en") -> str:
    """The rule file `text` (at `path`) with the edits of the workbook `data`; raises WorkbookError
    listing every bad cell. The result compiles (compile_ruleset with `calendar`)."""
    sheets = read_sheets(data)
    doc = load_yaml(text, str(path))
    try:
        ruleset = compile_ruleset(path, calendar, text)
    except RulesError:
        ruleset = None  # a file that does not compile yet: cells are read as YAML reads them
    edit = _Import(text, doc, ruleset, lang)
    edit.apply(sheets)
    if edit.problems:
        raise WorkbookError(edit.problems)
    try:
        compile_ruleset(path, calendar, edit.text)
    except RulesError as e:
        raise WorkbookError(edit.locate(e.problems, str(path))) from None
    return edit.text


# --- reading the file ---------------------------------------------------------------------

def read_sheets(data: bytes) -> list[tuple[str, list[tuple]]]:
    """(title, rows of cell values) of each sheet, every bound checked; WorkbookError otherwise."""
    if not isinstance(data, (bytes, bytearray)):
        raise WorkbookError(["the workbook must be the bytes of an .xlsx file"])
    if len(data) > MAX_WORKBOOK_BYTES:
        raise WorkbookError([f"the workbook is larger than {MAX_WORKBOOK_BYTES:,} bytes"])
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = z.infolist()
            names = {m.filename for m in members}
    except zipfile.BadZipFile:
        raise WorkbookError(["not an .xlsx workbook (an .xls, .csv or other file? save it as Excel .xlsx)"]) from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise WorkbookError([f"not a workbook: {len(members):,} files inside (at most {MAX_ZIP_MEMBERS:,})"])
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise WorkbookError([f"not a workbook: it unpacks to {unpacked:,} bytes (at most {MAX_UNPACKED_BYTES:,})"])
    if "xl/workbook.xml" not in names:
        raise WorkbookError(["not an .xlsx workbook (no xl/workbook.xml inside the zip)"])
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as e:  # noqa: BLE001 - any failure of a foreign file is a refusal of that file
        raise WorkbookError([f"not a readable .xlsx workbook ({type(e).__name__}: {str(e)[:200]})"]) from None
    try:
        if len(book.worksheets) > MAX_SHEETS:
            raise WorkbookError([f"{len(book.worksheets)} sheets (at most {MAX_SHEETS})"])
        return [(ws.title, _rows(ws)) for ws in book.worksheets]
    finally:
        book.close()


def _rows(ws) -> list[tuple]:
    limit = FIRST_DATA_ROW + MAX_ROWS
    rows = []
    for n, row in enumerate(ws.iter_rows(max_row=limit + 1, max_col=MAX_COLUMNS, values_only=True), start=1):
        if n > limit:
            if any(v not in (None, "") for v in row):
                raise WorkbookError([f"{ws.title}: more than {MAX_ROWS:,} rows"])
            break
        for c, v in enumerate(row, start=1):
            if isinstance(v, str) and len(v) > MAX_CELL_TEXT:
                raise WorkbookError([f"{ws.title}!{get_column_letter(c)}{n}: a text of {len(v):,} characters "
                                     f"(at most {MAX_CELL_TEXT:,})"])
        rows.append(tuple(row))
    return rows


# --- cell values --------------------------------------------------------------------------

_INT, _DEC, _DATE = re.compile(r"-?\d+"), re.compile(r"-?\d+\.\d+"), re.compile(r"\d{4}-\d{2}-\d{2}")
_FORMULA_BOOL = re.compile(r"=\s*(TRUE|FALSE)\s*(?:\(\s*\))?\s*", re.IGNORECASE)
_TEST = re.compile(r"^\s*(<=|>=|==|!=|<|>|not\s+in\b|in\b|=|-\s*$)")


def _value(raw, old, t=None):
    """A cell's value as the rule file would hold it. Spreadsheets hold numbers as binary floats:
    one is read back through its shortest text (0.85, never 0.84999…); a whole number stays an
    integer unless the file wrote a decimal. Text of a non-text column reads as YAML reads it."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)) and (isinstance(old, bool) or (t is not None and t.kind == "boolean")) \
            and raw in (0, 1):
        return bool(raw)  # a spreadsheet that stores TRUE as 1
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        d = Decimal(repr(raw))
        return int(d) if d == d.to_integral_value() and not isinstance(old, Decimal) else d
    if isinstance(raw, datetime):
        return raw.date() if raw.time() == datetime.min.time() and not isinstance(old, datetime) else raw
    if isinstance(raw, date):
        return raw
    text = str(raw)
    boolean = _FORMULA_BOOL.fullmatch(text)
    if boolean and (old is None or isinstance(old, bool) or (t is not None and t.kind == "boolean")):
        return boolean.group(1).upper() == "TRUE"  # LibreOffice saves TRUE as the formula =TRUE()
    if t is not None and t.kind == "enum" and not _TEST.match(text):
        return _enum_code(text, t)
    if (t is not None and t.kind in ("string", "enum")) or (t is None and isinstance(old, str)):
        return text
    s = text.strip()
    if _INT.fullmatch(s):
        return int(s)
    if _DEC.fullmatch(s):
        return Decimal(s)
    if s.lower() in ("true", "false"):
        return s.lower() == "true"
    if _DATE.fullmatch(s):
        try:
            return date.fromisoformat(s)
        except ValueError:
            return text
    return text


def _enum_code(text: str, t) -> str:
    """`electronics（投影机等电子产品）` (as the drop-down writes it), the code or the label → the code;
    anything else stays as written, for the compiler to name."""
    s = text.strip()
    code = s.split("（", 1)[0].strip()
    if code in t.values:
        return code
    by_label = {label: c for c, label in t.labels}
    return by_label.get(s, text)


def _same(old, new) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    if isinstance(old, (int, Decimal)) and isinstance(new, (int, Decimal)):
        return Decimal(old) == Decimal(new)
    if isinstance(old, list):
        return isinstance(new, str) and yamledit.render(old) == new.strip()
    return old == new


def _is_any(v) -> bool:
    return v is None or (isinstance(v, str) and v.strip() in (ANY_CELL, ""))


# --- applying the edits -------------------------------------------------------------------

def _cell(sheet: str, row: int, col: int) -> str:
    return f"{sheet}!{get_column_letter(col)}{row}"


def _at(rows: list[tuple], r: int, c: int):
    """The value at 1-based (row, column); None past the end."""
    return rows[r - 1][c - 1] if r <= len(rows) and c <= len(rows[r - 1]) else None


class _Import:
    def __init__(self, text: str, doc, ruleset, lang: str):
        self.text, self.doc, self.lang = text, doc, lang
        self.problems: list[str] = []
        # ("param", name) → (sheet, row, value column); ("row", table, id) → (sheet, row, {key: column});
        # ("table", name) → (sheet, 1, 2): where problems of the compiled result are shown
        self.where: dict = {}
        self.param_types = {n: p.type for n, p in ruleset.parameters.items()} if ruleset else {}
        self.table_types = {}
        for rule in ruleset.rules if ruleset else []:
            if rule.table and rule.table not in self.table_types:
                spec = self._spec(rule.table, lookup=False) or {}
                types = {str(c): ruleset.fact_types.get(str(c)) for c in spec.get("columns") or []}
                types |= {str(o): ruleset.outputs[str(o)].type for o in spec.get("outputs") or []
                          if str(o) in ruleset.outputs}
                self.table_types[rule.table] = types

    def edit(self, where: str, fn, *args) -> bool:
        try:
            self.text = fn(self.text, *args)
            return True
        except ValueError as e:
            self.problems.append(f"{where}: {e}")
            return False

    def apply(self, sheets):
        seen = False
        for title, rows in sheets:
            kind, name = _at(rows, 1, 1), _at(rows, 1, 2)
            if kind == PARAMS_KIND:
                seen = True
                if name != self.doc.get("ruleset"):
                    self.problems.append(f"{title}!B1: this workbook is of the rule set {name!r}, "
                                         f"not {self.doc.get('ruleset')!r}")
                    return
                self.parameters(title, rows)
            elif kind == DECISION_KIND:
                self.table(title, rows, str(name), lookup=False)
            elif kind == LOOKUP_KIND:
                self.table(title, rows, str(name), lookup=True)
        if not seen:
            self.problems.append(f"no sheet with {PARAMS_KIND!r} in A1: not a workbook of "
                                 "`aftersales sheet export`")

    # parameters
    def parameters(self, title: str, rows):
        keys = [_at(rows, PARAM_HEADER_ROW, c) for c in range(1, MAX_COLUMNS + 1)]
        col = {k: keys.index(k) + 1 for k in PARAM_COLUMNS if k in keys}
        if "key" not in col or "value" not in col:
            self.problems.append(f"{title}!A{PARAM_HEADER_ROW}: the header row needs the columns key and value")
            return
        params = self.doc.get("parameters") or {}
        done = set()
        for r in range(PARAM_HEADER_ROW + 2, len(rows) + 1):
            name = _at(rows, r, col["key"])
            if name in (None, ""):
                if any(_at(rows, r, c) not in (None, "") for c in col.values()):
                    self.problems.append(f"{_cell(title, r, col['key'])}: a parameter needs its name")
                continue
            name = str(name)
            if name not in params:
                self.problems.append(f"{_cell(title, r, col['key'])}: no parameter {name!r} in the rule file "
                                     "(parameters are added in the rule file, where rules use them)")
                continue
            if name in done:
                self.problems.append(f"{_cell(title, r, col['key'])}: parameter {name} appears twice")
                continue
            done.add(name)
            self.where[("param", name)] = (title, r, col["value"])
            spec = params[name]
            long_form = isinstance(spec, dict)
            old = spec.get("value") if long_form else spec
            t = self.param_types.get(name)
            new = _value(_at(rows, r, col["value"]), old, t)
            if new is None:
                self.problems.append(f"{_cell(title, r, col['value'])}: parameter {name} needs a value")
            elif not _same(old, new):
                self.edit(_cell(title, r, col["value"]), yamledit.set_parameter, name, new)
            for key in ("title", "source", "reading"):
                if key not in col:
                    continue
                old_text = spec.get(key) if long_form else None
                new_text = _at(rows, r, col[key])
                new_text = None if new_text in (None, "") else str(new_text)
                if (old_text or None) != new_text:
                    self.edit(_cell(title, r, col[key]), yamledit.set_parameter_field, name, key, new_text)
        for name in params:
            if name not in done:
                self.problems.append(f"{title}: parameter {name} is missing (parameters are removed in the rule "
                                     "file, with the rules that use them)")

    # tables
    def table(self, title: str, rows, name: str, lookup: bool):
        spec = self._spec(name, lookup)
        if spec is None:
            self.problems.append(f"{title}!B1: no {'lookup' if lookup else 'decision'} table {name!r} in the rule file")
            return
        self.where[("table", name)] = (title, 1, 2)
        for key, (r, c) in TABLE_FIELDS.items():
            if lookup and key not in ("title", "source"):
                continue
            new = _value(_at(rows, r, c + 1), spec.get(key))
            if not _same(spec.get(key), new):
                self.edit(_cell(title, r, c + 1), yamledit.set_table_field, name, key, new)
        keys = [_at(rows, KEY_ROW, c) for c in range(1, MAX_COLUMNS + 1)]
        col = {str(k): i + 1 for i, k in enumerate(keys) if k not in (None, "")}
        first = yamledit.LOOKUP_KEY if lookup else ROW_ID
        if first not in col:
            self.problems.append(f"{title}!A{KEY_ROW}: the header row needs the column {first}")
            return
        if lookup:
            existing = {str(k): v for k, v in (spec.get("rows") or {}).items()}
            columned = all(isinstance(v, dict) for v in existing.values())
            names = list(dict.fromkeys(str(k) for v in existing.values() for k in v)) if columned \
                else [yamledit.LOOKUP_VALUE]
            types = {}
        else:
            existing = {}
            for i, item in enumerate(spec.get("rows") or [], start=1):
                own = item if isinstance(item, dict) else {}
                existing[str(own.get("id") or f"{name}.{i}")] = item
            names = [str(c) for c in spec.get("columns") or []] + [str(o) for o in spec.get("outputs") or []]
            types = self.table_types.get(name, {})
        missing = [n for n in names if n not in col]
        unknown = [k for k in col if k not in names and k not in (first, ROW_TITLE, ROW_SOURCE)]
        for k in unknown:
            self.problems.append(f"{_cell(title, KEY_ROW, col[k])}: table {name} has no column {k!r} "
                                 "(columns are added in the rule file)")
        if missing:
            self.problems.append(f"{title}!A{KEY_ROW}: the column {', '.join(missing)} of table {name} is missing")
        if missing or unknown:
            return
        outputs = {str(o) for o in spec.get("outputs") or []}
        order, seen = [], set()
        for r in range(FIRST_DATA_ROW, len(rows) + 1):
            values = {k: _at(rows, r, c) for k, c in col.items()}
            if all(v in (None, "") for v in values.values()):
                continue
            rid = values[first]
            rid = None if rid in (None, "") else str(_value(rid, ""))
            where = _cell(title, r, col[first])
            if rid is not None and rid in seen:
                self.problems.append(f"{where}: {rid} appears twice in the table")
                continue
            if rid is None and lookup:
                self.problems.append(f"{where}: a row of a lookup table needs its key")
                continue
            if rid is None or rid not in existing:
                rid = self.add(title, r, name, lookup, col, values, names, types, outputs, order, rid)
                if rid is None:
                    continue
            else:
                self.update(title, r, name, lookup, col, values, names, types, outputs, existing[rid], rid)
            seen.add(rid)
            order.append(rid)
            self.where[("row", name, rid)] = (title, r, col)
        for rid in existing:
            if rid not in seen:
                self.edit(f"{title}: row {rid}", yamledit.remove_row, name, rid)
        self.reorder(title, name, order)

    def _spec(self, name: str, lookup: bool):
        if lookup:
            spec = (self.doc.get("tables") or {}).get(name)
            return spec if isinstance(spec, dict) else None
        for stage in self.doc.get("stages") or []:
            for spec in stage.get("rules") or []:
                if isinstance(spec, dict) and str(spec.get("table")) == name:
                    return spec
        return None

    def update(self, title, r, name, lookup, col, values, names, types, outputs, item, rid):
        if lookup:
            for n in names:
                old = item.get(n) if isinstance(item, dict) else item
                new = _value(values[n], old)
                if new is None and old is not None:
                    self.problems.append(f"{_cell(title, r, col[n])}: {name} {rid} needs a value")
                elif not _same(old, new):
                    self.edit(_cell(title, r, col[n]), yamledit.set_cell, name, rid, n, new)
            return
        own = item if isinstance(item, dict) else {}
        cells = own.get("row", []) if isinstance(item, dict) else item
        for n, old in zip(names, cells):
            new = _value(values[n], old, types.get(n))
            where = _cell(title, r, col[n])
            if n in outputs and new is None:
                self.problems.append(f"{where}: row {rid} needs a value for {n}")
            elif n not in outputs and _is_any(old) and _is_any(new):
                continue
            elif not _same(old, new):
                self.edit(where, yamledit.set_cell, name, rid, n, ANY_CELL if new is None else new)
        for key in (ROW_TITLE, ROW_SOURCE):
            if key in col:
                new = _value(values[key], "")
                if (own.get(key) or None) != (new or None):
                    self.edit(_cell(title, r, col[key]), yamledit.set_cell, name, rid, key, new)

    def add(self, title, r, name, lookup, col, values, names, types, outputs, order, rid):
        row = {}
        if lookup:
            row[yamledit.LOOKUP_KEY] = rid
            for n in names:
                v = _value(values[n], None)
                if v is not None:
                    row[n] = v
        else:
            if rid is not None:
                row[ROW_ID] = rid
            for key in (ROW_TITLE, ROW_SOURCE):
                if key in col and values[key] not in (None, ""):
                    row[key] = str(values[key])
            for n in names:
                v = _value(values[n], None, types.get(n))
                if v is not None:
                    row[n] = v
        before = set(self._ids(name))
        if not self.edit(_cell(title, r, col[yamledit.LOOKUP_KEY if lookup else ROW_ID]), yamledit.add_row,
                         name, row, order[-1] if order else None):
            return None
        added = [i for i in self._ids(name) if i not in before]
        return added[0] if added else None

    def _ids(self, name: str) -> list[str]:
        root = YAML(typ="rt").compose(self.text)
        return [rid for rid, _, _ in yamledit._table(root, name).items()]

    def reorder(self, title: str, name: str, order: list[str]):
        current = [i for i in self._ids(name) if i in order]
        for i, rid in enumerate(order):
            if i < len(current) and current[i] != rid:
                if not self.edit(f"{title}: row {rid}", yamledit.move_row, name, rid, current[i]):
                    return
                current = [x for x in self._ids(name) if x in order]

    # problems of the compiled result, at their cells
    def locate(self, problems, filename: str) -> list[str]:
        """Each problem at the smallest workbook region holding its line and column: a cell, a row
        (its first cell), a parameter's value, a table's name; else at its file:line:column."""
        regions = self._regions()
        starts = [0]
        for line in self.text.split("\n"):
            starts.append(starts[-1] + len(line) + 1)
        out = []
        for p in problems:
            at = starts[min(p.line, len(starts)) - 1] + max(p.column - 1, 0)
            out.append(f"{self._place(regions, at, p.message) or f'{filename}:{p.line}:{p.column}'}: "
                       f"{f'[{p.rule_id}] ' if p.rule_id else ''}{localize(p.message, self.lang)}")
        return out

    @staticmethod
    def _place(regions, at: int, message: str) -> str | None:
        """The label of the region of `at`. In a row, the cell: the compiler places a problem of a
        condition cell inside the test it makes of it (`product_class == 'x'`), so past the cell's
        start and possibly into the next cells; the rightmost cell starting before it wins, among
        those whose column the message names when one does."""
        inside = sorted((end - start, label, row) for start, end, label, row, column in regions
                        if start <= at <= end and column is None)
        if not inside:
            return None
        _, label, row = inside[0]
        cells = [(start, name, lab) for start, _, lab, r, name in regions if name and r == row and start <= at]
        named = [c for c in cells if c[1] in message]
        return max(named or cells)[2] if row and cells else label
    def _regions(self) -> list[tuple]:
        """(start, end, cell, row, column) of each part of the file the workbook holds: a parameter,
        a table, a row (column None) and each of its cells."""
        root = YAML(typ="rt").compose(self.text)
        regions = []

        def span(node):
            return node.start_mark.index, yamledit._content_end(self.text, node)

        params = yamledit._get(root, "parameters")
        for key, value in (params.value if isinstance(params, MappingNode) else []):
            if ("param", key.value) in self.where:
                sheet, r, c = self.where[("param", key.value)]
                regions.append((key.start_mark.index, span(value)[1], _cell(sheet, r, c), None, None))
        for (kind, *names), place in self.where.items():
            if kind != "table":
                continue
            table = yamledit._table(root, names[0])
            regions.append((*span(table.node), _cell(place[0], place[1], place[2]), None, None))
            cols = table.columns + table.outputs
            for rid, item, cells in table.items():
                if ("row", table.name, rid) not in self.where:
                    continue
                sheet, r, col = self.where[("row", table.name, rid)]
                first = yamledit.LOOKUP_KEY if table.lookup else ROW_ID
                row = (table.name, rid)
                regions.append((item.start_mark.index, span(cells)[1], _cell(sheet, r, col[first]), row, None))
                if isinstance(cells, SequenceNode) and not table.lookup:
                    for name, node in zip(cols, cells.value):
                        regions.append((*span(node), _cell(sheet, r, col[name]), row, name))
                elif isinstance(cells, MappingNode):
                    for k, node in cells.value:
                        if k.value in col:
                            regions.append((*span(node), _cell(sheet, r, col[k.value]), row, k.value))
        return regions
