"""Edits of a rule-set file's text that leave every other byte as it was.

A full ruamel.yaml round trip (load, change, dump) re-flows long flow lists and re-indents, so
it is not byte-identical on the shipped files. Instead ruamel.yaml's composer gives the exact
span of every node (its start and end offsets in the text), and an edit splices the new YAML
for one value, one key or one row into that span: comments, order, quoting and layout of
everything else stay byte for byte. Each function takes the file's text and returns the new
text; a bad edit raises a ValueError naming the table, row, column or parameter.

Used by `aftersales sheet import` and by the rules editor of the web pages.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from engine.errors import RulesError, did_you_mean
from engine.loading.yamlsource import load_yaml
from engine.types import MAX_TEXT

ROW_KEYS = ("id", "title", "source")
"""Keys of a decision-table row besides its cells (`row:`), in the order a new row is written."""
LOOKUP_KEY = "key"
"""The name of a lookup table's key column, in `set_cell`/`add_row` (a lookup table has no row ids)."""
LOOKUP_VALUE = "value"
"""The column of a lookup table whose rows are plain `key: value` pairs."""


# --- reading the text ---------------------------------------------------------------------

def _compose(text: str) -> MappingNode:
    """The node tree of `text`, after the engine's bounded loader accepted it (size, nesting,
    aliases, digits): ruamel.yaml then composes only what the engine would read."""
    if not isinstance(text, str):
        raise ValueError("the rule file must be text")
    try:
        load_yaml(text, "rule file")
    except RulesError as e:
        raise ValueError(f"the rule file does not read: {e.problems[0]}") from None
    try:
        root = YAML(typ="rt").compose(text)
    except YAMLError as e:  # the engine's loader read it, ruamel.yaml's did not: say so
        raise ValueError(f"the rule file does not read: {e}") from None
    if not isinstance(root, MappingNode):
        raise ValueError("the rule file is not a mapping of sections (ruleset:, parameters:, …)")
    return root


def _get(node, key: str):
    """The value node of `key` in a mapping node, or None."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key:
                return v
    return None


def _key_node(node: MappingNode, key: str):
    for k, _ in node.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return k
    return None


def _text(node) -> str:
    return node.value if isinstance(node, ScalarNode) else ""


class _Table:
    """A decision table (a rule with `table:`) or a lookup table (`tables:`) and its rows."""

    def __init__(self, name: str, node: MappingNode, lookup: bool):
        self.name, self.node, self.lookup = name, node, lookup
        self.rows = _get(node, "rows")
        if lookup:
            if not isinstance(self.rows, MappingNode) or not self.rows.value:
                raise ValueError(f"lookup table {name}: expected rows: {{key: value}}")
            self.columns: list[str] = []
            self.outputs: list[str] = []
            self.columned = all(isinstance(v, MappingNode) for _, v in self.rows.value)
            if self.columned:
                self.columns = list(dict.fromkeys(_text(k) for _, v in self.rows.value for k, _ in v.value))
        else:
            cols, outs = _get(node, "columns"), _get(node, "outputs")
            if not isinstance(self.rows, SequenceNode) or not isinstance(cols, SequenceNode) \
                    or not isinstance(outs, SequenceNode):
                raise ValueError(f"decision table {name}: expected columns: […], outputs: […] and rows: [[…], …]")
            self.columns = [_text(c) for c in cols.value]
            self.outputs = [_text(o) for o in outs.value]

    def items(self) -> list[tuple[str, object, object]]:
        """(row id, the item node, its cells node) of each row, in file order. A lookup table's row
        id is its key; a decision-table row without `id:` is `<table>.<n>`, as the compiler names it."""
        out = []
        if self.lookup:
            for k, v in self.rows.value:
                out.append((_text(k), k, v))
            return out
        for i, item in enumerate(self.rows.value, start=1):
            if isinstance(item, MappingNode):
                rid = _text(_get(item, "id")) or f"{self.name}.{i}"
                out.append((rid, item, _get(item, "row")))
            else:
                out.append((f"{self.name}.{i}", item, item))
        return out

    def find(self, row_id: str):
        for rid, item, cells in self.items():
            if rid == str(row_id):
                return item, cells
        what = "key" if self.lookup else "row"
        raise ValueError(f"table {self.name}: no {what} {row_id!r} "
                         f"(has {', '.join(r for r, _, _ in self.items())})")

    def column_index(self, column: str) -> int:
        names = self.columns + self.outputs
        wanted = " ".join(str(column).split())
        for i, name in enumerate(names):
            if " ".join(name.split()) == wanted:
                return i
        raise ValueError(f"table {self.name}: no column {column!r} (has {', '.join(names)})")

    def check_ids_stable(self, what: str):
        """Removing, moving or inserting a row renumbers the rows without their own `id:`; a rule
        id is what the decision log, the tests and the accepted findings name, so refuse."""
        if self.lookup:
            return
        for i, item in enumerate(self.rows.value, start=1):
            if not (isinstance(item, MappingNode) and _get(item, "id") is not None):
                raise ValueError(f"table {self.name}: row {i} has no id of its own, and {what} would renumber "
                                 f"it; give every row an id (id: {self.name}.{i}) first")


def _table(root: MappingNode, name: str) -> _Table:
    name = str(name)
    found = []
    for stage in getattr(_get(root, "stages"), "value", None) or []:
        rules = _get(stage, "rules")
        for rule in (rules.value if isinstance(rules, SequenceNode) else []):
            if isinstance(rule, MappingNode) and _text(_get(rule, "table")) == name:
                found.append(_Table(name, rule, lookup=False))
    lookup = _get(_get(root, "tables"), name)
    if isinstance(lookup, MappingNode):
        found.append(_Table(name, lookup, lookup=True))
    if not found:
        raise ValueError(f"no decision table or lookup table {name!r} in the rule file")
    if len(found) > 1:
        raise ValueError(f"{name!r} names more than one table in the rule file")
    return found[0]


# --- writing values ---------------------------------------------------------------------

def render(value, quote: str | None = None) -> str:
    """`value` as YAML text that the engine's loader reads back as the same value: true/false,
    numbers written out in full, dates as YYYY-MM-DD, lists in flow style, text plain where that
    reads back as the same text (or where `quote` is None) and double-quoted otherwise."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        raise ValueError(f"{value!r} is a binary float: give numbers as Decimal or int")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a number")
        return f"{value:f}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise ValueError(f"a text of {len(value):,} characters (at most {MAX_TEXT:,})")
        if quote is None and _reads_back(value):
            return value
        return json.dumps(value, ensure_ascii=False)  # JSON strings are YAML double-quoted scalars
    raise ValueError(f"cannot write a {type(value).__name__} into a rule file")


_WORD = re.compile(r"\w[\w.]*")
"""A cell written plain (`electronics`, `服务类`); a test (`<= 300`, `-`) or an expression is quoted,
as the shipped tables write them."""
_PLAIN = re.compile(r"[^\s\[\]{},#&*!|>'\"%@`:][^\[\]{},#]*")


def _reads_back(text: str) -> bool:
    """Can `text` stay unquoted, in a flow list and after `key: `, and read back unchanged?"""
    if not _PLAIN.fullmatch(text) or text != text.strip() or ": " in text or text.endswith(":") or " #" in text:
        return False
    try:
        back = load_yaml(f"[{text}]", "value")
    except RulesError:
        return False
    return back == [text] and isinstance(back[0], str)


def _splice(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def _checked(text: str) -> str:
    """The edited text, once the engine's loader reads it (an edit must never leave a broken file)."""
    try:
        load_yaml(text, "rule file")
    except RulesError as e:
        raise ValueError(f"the edit would break the file: {e.problems[0]}") from None
    return text


def _cell_quote(value) -> str | None:
    return None if not isinstance(value, str) or _WORD.fullmatch(value) else '"'


def _set_scalar(text: str, node, value, cell: bool = False) -> str:
    """Replace one value node (a scalar, or a flow list) by `value`, keeping double or single quotes;
    a table `cell` that was plain is quoted when it becomes a test or an expression."""
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):
        quote = '"'  # a block scalar (>-) becomes one double-quoted line
    elif isinstance(node, ScalarNode):
        quote = node.style or (_cell_quote(value) if cell else None)
    elif isinstance(node, SequenceNode) and node.flow_style:
        quote = None
    else:
        raise ValueError("only a single value or a [flow] list can be replaced")
    new = render(value, quote)
    end = node.end_mark.index
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):
        end = _content_end(text, node)
    return _splice(text, node.start_mark.index, end, new)


def _content_end(text: str, node) -> int:
    """Where the node's own text ends: block nodes' end marks run on over the blank and comment
    lines after them."""
    end = node.end_mark.index
    while end > node.start_mark.index and text[end - 1] in " \n\r\t":
        end -= 1
    if isinstance(node, (MappingNode, SequenceNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        end = _content_end(text, last[1] if isinstance(last, tuple) else last)
    return end


# --- lines --------------------------------------------------------------------------------

def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """The offset just after the line holding `index` (its newline included)."""
    nl = text.find("\n", index)
    return len(text) if nl < 0 else nl + 1


def _item_span(text: str, item) -> tuple[int, int]:
    """The whole lines of one block-sequence item: from its `-` to the end of its last line."""
    dash = text.rfind("-", 0, item.start_mark.index)
    if dash < 0 or text[dash + 1:item.start_mark.index].strip():
        raise ValueError("rows must be written one per item (`- …`)")
    return _line_start(text, dash), _line_end(text, _content_end(text, item) - 1)


def _block_rows(table: _Table):
    if table.rows.flow_style:
        raise ValueError(f"table {table.name}: its rows are written in one flow collection; "
                         "write one row per line to edit them here")


def _row_span(text: str, table: _Table, item, cells) -> tuple[int, int]:
    """The whole lines of one row: a sequence item from its `-`, a lookup row from its key."""
    if table.lookup:
        return _line_start(text, item.start_mark.index), _line_end(text, _content_end(text, cells) - 1)
    return _item_span(text, item)


# --- the edits ----------------------------------------------------------------------------

def set_parameter(text: str, name: str, value) -> str:
    """The text with parameter `name`'s value (`value:` of the long form, or the short form's
    value) replaced by `value`."""
    root = _compose(text)
    params = _get(root, "parameters")
    node = _get(params, str(name))
    if node is None:
        names = [_text(k) for k, _ in getattr(params, "value", [])]
        raise ValueError(f"no parameter {name!r} in the rule file" + did_you_mean(name, names))
    if isinstance(node, MappingNode):
        node = _get(node, "value")
        if node is None:
            raise ValueError(f"parameter {name} has no value: key to replace")
    return _checked(_set_scalar(text, node, value))


def set_cell(text: str, table_rule_id: str, row_id: str, column: str, value) -> str:
    """The text with one cell replaced: `column` is a condition column as the table writes it
    (`given(review_date)`), an output, or a row's id, title or source; in a lookup table, a column
    of its rows (`value` for plain key → value rows) or `key`."""
    root = _compose(text)
    table = _table(root, table_rule_id)
    item, cells = table.find(row_id)
    column = str(column)
    if table.lookup:
        if column == LOOKUP_KEY:
            return _checked(_set_scalar(text, item, value))
        if not table.columned:
            if column != LOOKUP_VALUE:
                raise ValueError(f"table {table.name}: rows are key: value; the column is {LOOKUP_VALUE!r}")
            return _checked(_set_scalar(text, cells, value, cell=True))
        node = _get(cells, column)
        if node is None:
            table.column_index(column)  # names the columns when it is not one
            return _checked(_insert_key(text, cells, column, render(value, _cell_quote(value)), before=None))
        return _checked(_set_scalar(text, node, value, cell=True))
    if column in ROW_KEYS:
        if not isinstance(item, MappingNode):
            raise ValueError(f"table {table.name}: row {row_id} is a plain list; write it as "
                             f"{{id: …, row: […]}} to give it a {column}")
        if column == "id" and value in (None, ""):
            raise ValueError(f"table {table.name}: row {row_id} needs an id")
        return _checked(_set_key(text, item, column, value, before="row"))
    index = table.column_index(column)
    if not isinstance(cells, SequenceNode) or len(cells.value) != len(table.columns) + len(table.outputs):
        raise ValueError(f"table {table.name}: row {row_id} does not have one cell per column")
    return _checked(_set_scalar(text, cells.value[index], value, cell=True))


def set_parameter_field(text: str, name: str, key: str, value) -> str:
    """The text with parameter `name`'s title, source or reading set to `value` (None: removed)."""
    if key not in ("title", "source", "reading"):
        raise ValueError(f"parameter {name}: {key!r} is not one of title, source, reading")
    node = _get(_get(_compose(text), "parameters"), str(name))
    if not isinstance(node, MappingNode):
        raise ValueError(f"parameter {name} is written in the short form (name: value); write it as "
                         f"{{value: …, {key}: …}} in the rule file to give it a {key}")
    return _checked(_set_key(text, node, key, value, before=None))


TABLE_KEYS = ("title", "source", "hit", "effective_from", "effective_to")


def set_table_field(text: str, table_rule_id: str, key: str, value) -> str:
    """The text with a table's own title, source, hit policy or effective dates set to `value`
    (None: removed; a lookup table has a title and a source only)."""
    table = _table(_compose(text), table_rule_id)
    allowed = TABLE_KEYS[:2] if table.lookup else TABLE_KEYS
    if key not in allowed:
        raise ValueError(f"table {table.name}: {key!r} is not one of {', '.join(allowed)}")
    return _checked(_set_key(text, table.node, key, value, before="columns" if not table.lookup else "rows"))


def _set_key(text: str, mapping: MappingNode, key: str, value, before: str | None) -> str:
    """Set, add (before the key `before`) or, when `value` is None, remove `key` of a mapping."""
    node = _get(mapping, key)
    if value is None or value == "":
        return text if node is None else _drop_key(text, mapping, key)
    if node is None:
        return _insert_key(text, mapping, key, render(value), before)
    return _set_scalar(text, node, value)


def _drop_key(text: str, mapping: MappingNode, key: str) -> str:
    k, v = _key_node(mapping, key), _get(mapping, key)
    if mapping.flow_style:
        end = _content_end(text, v)
        rest = re.match(r"\s*,\s*", text[end:])
        if rest:
            return _splice(text, k.start_mark.index, end + rest.end(), "")
        start = text.rfind(",", 0, k.start_mark.index)
        return _splice(text, start, end, "")
    if mapping.value[0][0] is k:
        raise ValueError(f"{key} is the first key of its mapping; remove it in the rule file")
    return _splice(text, _line_start(text, k.start_mark.index), _line_end(text, _content_end(text, v) - 1), "")


def _insert_key(text: str, mapping: MappingNode, key: str, value_text: str, before: str | None) -> str:
    """Add `key: value` to a mapping, before the key `before` when it has one, else at its end."""
    anchor = _key_node(mapping, before) if before else None
    if mapping.flow_style:
        if anchor is not None:
            return _splice(text, anchor.start_mark.index, anchor.start_mark.index, f"{key}: {value_text}, ")
        close = text.rfind("}", 0, mapping.end_mark.index)
        sep = ", " if mapping.value else ""
        return _splice(text, close, close, f"{sep}{key}: {value_text}")
    first = mapping.value[0][0]
    indent = " " * first.start_mark.column
    if anchor is not None:
        at = _line_start(text, anchor.start_mark.index)
    else:
        at = _line_end(text, _content_end(text, mapping) - 1)
    return _splice(text, at, at, f"{indent}{key}: {value_text}\n")


def add_row(text: str, table_rule_id: str, row: dict, after: str | None) -> str:
    """The text with a new row after row `after` (None: after the last row). A decision-table row
    is {id, title, source, <column>: cell, <output>: value}: a column left out is `-` (any), every
    output must be given, an id left out becomes the next free `<table>.<n>`. A lookup-table row is
    {key: …, <column>: value} (or {key: …, value: …})."""
    if not isinstance(row, dict):
        raise ValueError("a row is a mapping of column → value")
    root = _compose(text)
    table = _table(root, table_rule_id)
    _block_rows(table)
    items = table.items()
    ids = [rid for rid, _, _ in items]
    anchor, anchor_cells = table.find(after) if after is not None else items[-1][1:]
    if after is not None and str(after) != ids[-1]:
        table.check_ids_stable("inserting a row")
    sample = items[0][1]
    if table.lookup:
        entry = _lookup_row(table, row, ids)
        lines = [" " * sample.start_mark.column + entry]
    else:
        entry = _table_row(table, row, ids)
        dash = text.rfind("-", 0, sample.start_mark.index)
        dash_col = dash - _line_start(text, dash)
        lines = _row_lines(entry, sample, dash_col, sample.start_mark.column)
    at = _row_span(text, table, anchor, anchor_cells)[1]
    new = "".join(line + "\n" for line in lines)
    if at == len(text) and not text.endswith("\n"):
        new = "\n" + new
    return _checked(_splice(text, at, at, new))


def _table_row(table: _Table, row: dict, ids: list[str]) -> dict:
    names = table.columns + table.outputs
    normal = {" ".join(n.split()): n for n in names}
    cells, keys = {}, {}
    for k, v in row.items():
        k = str(k)
        if k in ROW_KEYS:
            keys[k] = v
        elif " ".join(k.split()) in normal:
            cells[normal[" ".join(k.split())]] = v
        else:
            raise ValueError(f"table {table.name}: no column {k!r} (has {', '.join(ROW_KEYS + tuple(names))})")
    missing = [o for o in table.outputs if o not in cells]
    if missing:
        raise ValueError(f"table {table.name}: the new row needs a value for output {', '.join(missing)}")
    rid = str(keys.get("id") or "")
    if not rid:
        n = len(ids) + 1
        while f"{table.name}.{n}" in ids:
            n += 1
        rid = f"{table.name}.{n}"
    if rid in ids:
        raise ValueError(f"table {table.name}: a row {rid!r} exists already")
    keys["id"] = rid
    return {"keys": {k: keys[k] for k in ROW_KEYS if keys.get(k) not in (None, "")},
            "cells": [cells.get(n, "-") for n in names]}


def _row_lines(entry: dict, sample, dash_col: int, key_col: int) -> list[str]:
    """A decision-table row in the style of the table's first row: a block mapping, or one line."""
    cells = "[" + ", ".join(render(c, _cell_quote(c)) for c in entry["cells"]) + "]"
    pairs = [(k, render(v)) for k, v in entry["keys"].items()] + [("row", cells)]
    if isinstance(sample, MappingNode) and not sample.flow_style:
        pad = " " * (key_col - dash_col - 1)
        first, *rest = pairs
        return [" " * dash_col + "-" + pad + f"{first[0]}: {first[1]}"] + \
               [" " * key_col + f"{k}: {v}" for k, v in rest]
    return [" " * dash_col + "- {" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"]


def _lookup_row(table: _Table, row: dict, keys: list[str]) -> str:
    if LOOKUP_KEY not in row or row[LOOKUP_KEY] in (None, ""):
        raise ValueError(f"lookup table {table.name}: the new row needs a {LOOKUP_KEY}")
    key = row[LOOKUP_KEY]
    if str(key) in keys:
        raise ValueError(f"lookup table {table.name}: the key {key!r} exists already")
    values = {str(k): v for k, v in row.items() if k != LOOKUP_KEY}
    if not table.columned:
        if set(values) != {LOOKUP_VALUE}:
            raise ValueError(f"lookup table {table.name}: a row is {{{LOOKUP_KEY}: …, {LOOKUP_VALUE}: …}}")
        return f"{render(key)}: {render(values[LOOKUP_VALUE])}"
    unknown = [c for c in values if c not in table.columns]
    if unknown:
        raise ValueError(f"lookup table {table.name}: no column {unknown[0]!r} (has {', '.join(table.columns)})")
    if not values:
        raise ValueError(f"lookup table {table.name}: the new row needs a value")
    return f"{render(key)}: {{" + ", ".join(f"{c}: {render(values[c])}" for c in table.columns if c in values) + "}"


def remove_row(text: str, table_rule_id: str, row_id: str) -> str:
    """The text without row `row_id` (its lines, with a comment at their end)."""
    root = _compose(text)
    table = _table(root, table_rule_id)
    item, cells = table.find(row_id)
    if len(table.items()) == 1:
        raise ValueError(f"table {table.name}: {row_id} is its only row; a table needs one")
    _block_rows(table)
    table.check_ids_stable("removing a row")
    start, end = _row_span(text, table, item, cells)
    return _checked(_splice(text, start, end, ""))


def move_row(text: str, table_rule_id: str, row_id: str, before: str | None) -> str:
    """The text with row `row_id` moved before row `before` (None: after the last row)."""
    root = _compose(text)
    table = _table(root, table_rule_id)
    _block_rows(table)
    item, cells = table.find(row_id)
    target = table.find(before) if before is not None else None
    table.check_ids_stable("moving a row")
    span = _row_span(text, table, item, cells)
    at = _row_span(text, table, *target)[0] if target else _row_span(text, table, *table.items()[-1][1:])[1]
    if span[0] <= at <= span[1]:
        return text  # already there
    moved = text[span[0]:span[1]]
    if not moved.endswith("\n"):
        moved += "\n"
    if at > span[1]:
        new = text[:span[0]] + text[span[1]:at] + moved + text[at:]
    else:
        new = text[:at] + moved + text[at:span[0]] + text[span[1]:]
    return _checked(new)
