"""The rules editor (issue 13), on the web pages' blueprint, for people with the `author` role:

    /ui/rules/<name>/edit              a form with every parameter value and every decision-table cell of
                                       the active release's file of that rule set
    POST /ui/rules/<name>/edit         do=up|down|remove|add:<table>:<row> moves, removes or adds a row;
                                       do=preview shows the evidence of the edited version (check, rule
                                       tests, impact over the recently logged decisions); do=save makes a
                                       draft release with a message and goes to its page
    POST /ui/rules/<name>/edit/check   the form's edits applied and compiled: JSON problems per field,
                                       asked by the page's script as the person types
    POST /ui/rules/<name>/upload       an edited workbook (aftersales sheet export): preview or draft

The form states the values wanted; the server applies what differs from the base release's file with
engine.tooling.workbook.yamledit (comments, order and layout of the YAML kept) and compiles the result
with the release's calendar: that, not the script, is the truth. Nothing goes live from here: a draft
release goes through the workflow (releases.governance).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from flask import Response, g, jsonify, redirect, render_template, request, url_for

from engine.errors import RulesError
from engine.loading.compiler import compile_ruleset
from engine.loading.yamlsource import load_yaml
from engine.messages import localize
from engine.tooling.workbook import yamledit
from engine.tooling.workbook.export import export_workbook
from engine.tooling.workbook.import_ import (
    MAX_WORKBOOK_BYTES,
    WorkbookError,
    import_workbook,
)
from releases.governance import Actor, WorkflowError
from releases.snapshot import Snapshot, check_files, files_calendar
from releases.store import utcnow

from .pages import _error, _service, bp, page, t
from .releases import MAX_SHOWN, _impact

AUTHOR = "author"
MAX_ROWS = 500
"""Rows of one decision table in the form: each row is a rule the engine matches per case; the
shipped tables have at most a dozen, so hundreds is a wrong file, not a policy."""
MAX_NEW_ROWS = 50
"""Rows added to one table in one request (each is a YAML edit and a field set on the page)."""
MAX_CELL_CHARS = 2000
"""Characters of one typed value: an expression of a few lines at most."""
MAX_CACHED_EDITS = 64
"""YAML edits remembered per process (each keeps its texts, tens of kilobytes for the shipped files): the
page asks for the whole form's edits again at each keystroke, and each edit re-reads the file (about
a third of a second for warranty.yaml), so the edits before the one being typed are taken from here."""
OPS = ("up", "down", "remove", "add")
SEP = "|"
"""Joins the parts of a field name (table ids and row ids hold dots and hyphens, never this)."""


# --------------------------------------------------------------------------- the form's model

@dataclass
class Row:
    key: str  # the base row id, or "+N" for a row added on the page
    id: str
    title: str = ""
    source: str = ""
    cells: list = field(default_factory=list)  # text as shown

    @property
    def new(self) -> bool:
        return self.key.startswith("+")


@dataclass
class Table:
    id: str
    title: str
    hit: str
    columns: list
    outputs: list
    rows: list  # of Row


@dataclass
class Param:
    name: str
    title: str
    text: str
    editable: bool  # a scalar value; lists and mappings are edited in the YAML or the workbook


@dataclass
class Model:
    params: list
    tables: list

    def table(self, tid: str) -> Table | None:
        return next((tb for tb in self.tables if tb.id == tid), None)


def shown(value) -> str:
    """A YAML scalar as the form shows it (and as `typed` reads it back)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _scalar(value) -> bool:
    return value is None or isinstance(value, (str, int, Decimal, date))


def read_model(text: str, file: str) -> Model:
    """The parameters and decision tables of a rule file, as the form edits them (RulesError if the
    YAML does not parse)."""
    doc = load_yaml(text, file)
    if not isinstance(doc, dict):
        raise RulesError([])
    params = []
    for name, spec in _map(doc.get("parameters")).items():
        long_form = isinstance(spec, dict)
        value = spec.get("value") if long_form else spec
        params.append(Param(str(name), str(spec.get("title", "")) if long_form else "",
                            shown(value) if _scalar(value) else "", _scalar(value)))
    tables = []
    for stage in _list(doc.get("stages")):
        for spec in _list(_map(stage).get("rules")):
            if not isinstance(spec, dict) or "table" not in spec:
                continue
            rows = []
            for i, row in enumerate(_list(spec.get("rows"))[:MAX_ROWS], start=1):
                rid = f"{spec['table']}.{i}"  # as the compiler names a row without an id
                if isinstance(row, dict):
                    rid = str(row.get("id", rid))
                    rows.append(Row(rid, rid, str(row.get("title", "")), str(row.get("source", "")),
                                    [shown(c) for c in _list(row.get("row"))]))
                else:
                    rows.append(Row(rid, rid, cells=[shown(c) for c in _list(row)]))
            tables.append(Table(str(spec["table"]), str(spec.get("title", "")), str(spec.get("hit", "first")),
                                [str(c) for c in _list(spec.get("columns"))], [str(o) for o in _list(spec.get("outputs"))],
                                rows))
    return Model(params, tables)


def _map(node) -> dict:
    """A mapping of the file, or {} where a draft being edited has something else (its load problems say so)."""
    return node if isinstance(node, dict) else {}


def _list(node) -> list:
    return node if isinstance(node, list) else []


def name(*parts) -> str:
    return SEP.join(str(p) for p in parts)


def typed(text: str):
    """What a person typed, as the YAML value it stands for: true/false, a number, a date, empty
    (null); anything else is text as typed (so `- `, `> 50` or `= add_months(…)` stay themselves)."""
    text = text.strip()
    if not text:
        return None
    try:
        value = load_yaml(text, "value")
    except RulesError:
        return text
    return value if isinstance(value, (bool, int, Decimal, date)) else text


def _kind(value) -> str:
    """What a parameter holds, as a person tells them apart: a number, yes/no, a date, text, nothing."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, Decimal)):
        return "number"
    return "date" if isinstance(value, date) else "text"


# --------------------------------------------------------------------------- the form's wishes

@dataclass
class Wanted:
    params: dict  # name → text
    tables: dict  # table id → [Row], in the wanted order
    errors: dict  # field → [message]


def _text(form, key: str, default: str, errors: dict) -> str:
    value = form.get(key, default)
    if len(value) > MAX_CELL_CHARS:
        errors.setdefault(key, []).append(t("ed_too_long").format(n=MAX_CELL_CHARS))
        return default
    return value


def wanted(form, model: Model) -> Wanted:
    """The values the form asks for: a field not sent keeps the base value; `order|<table>` lists the
    rows' keys in order (a base row missing from it is removed, a `+N` key is a row added here)."""
    errors: dict = {}
    params = {p.name: _text(form, name("p", p.name), p.text, errors) for p in model.params if p.editable}
    tables = {}
    for tb in model.tables:
        base = {r.key: r for r in tb.rows}
        keys = form.get(name("order", tb.id), " ".join(base)).split()
        width = len(tb.columns) + len(tb.outputs)
        rows, added = [], 0
        for key in dict.fromkeys(keys):  # each once, in order
            if key not in base and not re.fullmatch(r"\+\d{1,4}", key):
                continue
            if key not in base:
                added += 1
                if added > MAX_NEW_ROWS:
                    errors.setdefault(name("order", tb.id), []).append(t("ed_too_many_rows").format(n=MAX_NEW_ROWS))
                    break
            old = base.get(key) or Row(key, "", cells=[""] * width)
            cells = [_text(form, name("c", tb.id, key, j), old.cells[j] if j < len(old.cells) else "", errors)
                     for j in range(width)]
            if key not in base:
                rows.append(Row(key, _text(form, name("id", tb.id, key), "", errors).strip(),
                                _text(form, name("title", tb.id, key), "", errors).strip(),
                                _text(form, name("source", tb.id, key), "", errors).strip(), cells))
            else:
                rows.append(Row(key, old.id, old.title, old.source, cells))
        tables[tb.id] = rows[:MAX_ROWS]
    return Wanted(params, tables, errors)


def operate(op: str, want: Wanted, model: Model) -> None:
    """A row button: `up|down|remove|add` `|<table>|<row key>` changes the wanted order."""
    verb, _, rest = op.partition(SEP)
    tid, _, key = rest.partition(SEP)
    rows, tb = want.tables.get(tid), model.table(tid)
    if verb not in OPS or rows is None or tb is None:
        return
    at = next((i for i, r in enumerate(rows) if r.key == key), None)
    if verb == "add":  # every cell "-" (any value): the person fills in the outputs and the conditions
        taken = {int(r.key[1:]) for r in rows if r.new}
        new = Row(f"+{max(taken, default=0) + 1}", "", cells=["-"] * (len(tb.columns) + len(tb.outputs)))
        rows.insert(len(rows) if at is None else at + 1, new)
    elif at is None:
        return
    elif verb == "remove":
        rows.pop(at)
    elif verb == "up" and at > 0:
        rows[at - 1], rows[at] = rows[at], rows[at - 1]
    elif verb == "down" and at < len(rows) - 1:
        rows[at + 1], rows[at] = rows[at], rows[at + 1]


# --------------------------------------------------------------------------- applying and compiling

def _row_ids(text: str, file: str, tid: str) -> list[str]:
    model = read_model(text, file)
    tb = model.table(tid)
    return [r.id for r in tb.rows] if tb else []


def apply(text: str, file: str, model: Model, want: Wanted) -> tuple[str, dict, int]:
    """(the edited text, field → [message] for edits yamledit refused, the number of edits made)."""
    errors = {k: list(v) for k, v in want.errors.items()}
    edits = 0

    def edit(key: str, fn, *args) -> bool:
        nonlocal text, edits
        try:
            text = _edited(text, fn.__name__, *args)
        except ValueError as e:
            errors.setdefault(key, []).append(str(e))
            return False
        edits += 1
        return True

    for p in model.params:
        if p.editable and want.params[p.name] != p.text:
            value, was = typed(want.params[p.name]), _kind(typed(p.text))
            if was not in ("text", _kind(value)):
                errors.setdefault(name("p", p.name), []).append(
                    t("ed_expected").format(kind=t(f"ed_kind_{was}"), old=p.text))
                continue
            edit(name("p", p.name), yamledit.set_parameter, p.name, value)
    for tb in model.tables:
        rows = want.tables[tb.id]
        kept = {r.key for r in rows}
        cols = tb.columns + tb.outputs
        for r in tb.rows:
            if r.key not in kept:
                edit(name("order", tb.id), yamledit.remove_row, tb.id, r.id)
        base = {r.key: r for r in tb.rows}
        ids = [r.id for r in rows if not r.new]
        for r in rows:
            if r.new:
                continue
            for j, col in enumerate(cols):
                if r.cells[j] != (base[r.key].cells[j] if j < len(base[r.key].cells) else ""):
                    edit(name("c", tb.id, r.key, j), yamledit.set_cell, tb.id, r.id, col, typed(r.cells[j]))
        placed, previous = [], None  # the ids in the file, in the wanted order; the row before the next
        for r in rows:
            if not r.new:
                placed.append(r.id)
                previous = r.id
                continue
            refused = t("ed_id_required") if not r.id else t("ed_id_taken").format(id=r.id) if r.id in ids else None
            if refused:
                errors.setdefault(name("id", tb.id, r.key), []).append(refused)
                continue
            row = {"id": r.id, "title": r.title, "source": r.source} | {col: typed(c) for col, c in zip(cols, r.cells)}
            if edit(name("id", tb.id, r.key), yamledit.add_row, tb.id, tuple(row.items()), previous):
                ids.append(r.id)
                placed.append(r.id)
                previous = r.id
        if [r.key for r in rows] != [r.key for r in tb.rows]:  # rows added, removed or moved
            text, moved = _reorder(text, file, tb.id, placed, errors)
            edits += moved
    return text, errors, edits


@lru_cache(maxsize=MAX_CACHED_EDITS)
def _edited(text: str, fn: str, *args) -> str:
    """One yamledit edit (a row as a tuple of items); the same edit of the same text is remembered."""
    if fn == "add_row":
        args = (args[0], dict(args[1]), args[2])
    return getattr(yamledit, fn)(text, *args)


def _reorder(text: str, file: str, tid: str, order: list[str], errors: dict) -> tuple[str, int]:
    """Move rows until the table's rows are in `order` (from the last: each row before its successor)."""
    try:
        current = _row_ids(text, file, tid)
    except RulesError:
        return text, 0
    order = list(dict.fromkeys(i for i in order if i in current))
    if order == current:
        return text, 0
    moves = 0
    for i in range(len(order) - 1, -1, -1):
        before = order[i + 1] if i + 1 < len(order) else None
        at = current.index(order[i])
        if (before is None and at == len(current) - 1) or (before is not None and current.index(before) == at + 1):
            continue
        try:
            text = _edited(text, "move_row", tid, order[i], before)
        except ValueError as e:
            errors.setdefault(name("order", tid), []).append(str(e))
            return text, moves
        moves += 1
        current.remove(order[i])
        current.insert(current.index(before) if before is not None else len(current), order[i])
    return text, moves


def _places(text: str, file: str) -> tuple[list, dict]:
    """Where each field is in the edited text: ([(line, param field)] sorted, row id → row field)."""
    try:
        doc = load_yaml(text, file)
    except RulesError:
        return [], {}
    params = doc.get("parameters") if isinstance(doc, dict) else None
    lines = sorted((params.pos(n)[0], name("p", n)) for n in params) if hasattr(params, "pos") else []
    rows = {}
    for tb in read_model(text, file).tables:
        for r in tb.rows:
            rows[r.id] = name("row", tb.id, r.id)
    return lines, rows


def compile_problems(text: str, file: str, files: dict) -> list:
    """The compiler's problems with the edited text, on the release's calendar ([] when it compiles)."""
    try:
        compile_ruleset(Path(file), files_calendar(files), text)
    except RulesError as e:
        return list(e.problems)
    return []


def _cell_of(tb: Table | None, key: str, message: str) -> str | None:
    """The cell field a problem of a row names, when its message names exactly one of the table's
    columns (`output approver: 'nobody' — must be one of …`)."""
    if tb is None:
        return None
    named = [j for j, col in enumerate(tb.columns + tb.outputs)
             if re.search(rf"(?<![\w.]){re.escape(col)}(?![\w(])", message)]
    return name("c", tb.id, key, named[0]) if len(named) == 1 else None


def locate(problems: list, text: str, file: str, model: Model, want: Wanted) -> tuple[dict, list]:
    """(field → [message], [messages of no one field]): a problem of a table row goes to the row, one
    within a parameter's lines to the parameter."""
    if not problems:
        return {}, []
    lines, rows = _places(text, file)
    keys = {r.id: r.key for rows_ in want.tables.values() for r in rows_}
    fields: dict = {}
    general = []
    for p in problems:
        where, message = f"{file}:{p.line}", localize(p.message, g.lang)
        if p.rule_id and p.rule_id in rows:
            tid = rows[p.rule_id].split(SEP)[1]
            key = keys.get(p.rule_id, p.rule_id)
            fields.setdefault(_cell_of(model.table(tid), key, p.message) or name("row", tid, key), []).append(
                f"{where}: {message}")
            continue
        owner = None
        for i, (line, fname) in enumerate(lines):
            nxt = lines[i + 1][0] if i + 1 < len(lines) else None
            if line <= p.line and (nxt is None or p.line < nxt) and not p.rule_id:
                owner = fname
        if owner and owner.split(SEP, 1)[1] in want.params:
            fields.setdefault(owner, []).append(f"{where}: {message}")
        else:
            general.append(f"{where}:{p.column}: {message}" + (f" [{p.rule_id}]" if p.rule_id else ""))
    return fields, general


# --------------------------------------------------------------------------- the views

@dataclass
class Editing:
    name: str
    file: str
    base: str  # release id
    files: dict  # the base release's files
    model: Model


def _editing(rs_name: str, base: str | None) -> Editing | tuple:
    """The rule set's file in the base release (the one the form started from, else the active one),
    or an error page."""
    gov = _service().governance
    rid = base or gov.active()
    if rid is None:
        return _error(409, t("ed_no_active"))
    try:
        files = gov.snapshot(rid).files
    except WorkflowError as e:
        return _error(e.status, e.message)
    file = f"{rs_name}.yaml"
    if file not in files or "/" in rs_name:
        return _error(404, f"unknown rule set {rs_name[:64]!r} in release {rid}")
    try:
        model = read_model(files[file], file)
    except RulesError as e:
        return _error(422, "; ".join(str(p) for p in e.problems) or f"{file}: not a rule file")
    return Editing(rs_name, file, rid, files, model)


def _checked(ed: Editing, want: Wanted) -> tuple[str, dict, list, int]:
    text, fields, edits = apply(ed.files[ed.file], ed.file, ed.model, want)
    more, general = locate(compile_problems(text, ed.file, ed.files), text, ed.file, ed.model, want)
    for k, v in more.items():
        fields.setdefault(k, []).extend(v)
    return text, fields, general, edits


def _choices(rs_name: str) -> dict:
    """Enum columns' codes with their labels, offered as the cells' suggestions (a cell may also hold
    a test like `- ` or `!= x`, so it stays a text field): from the served rule set."""
    loaded = _service().source.book.rulesets.get(rs_name)
    if loaded is None:
        return {}
    decls = {**loaded.ruleset.inputs, **loaded.ruleset.outputs}  # an output's type is that of one item
    return {name_: [(code, decl.type.label(code)) for code in decl.type.values]
            for name_, decl in decls.items() if decl.type.kind == "enum"}


def _render(ed: Editing, want: Wanted, fields: dict, general: list, status: int = 200, **extra):
    tables = []
    for tb in ed.model.tables:
        tables.append({"table": tb, "rows": want.tables[tb.id]})
    params = [{"p": p, "value": want.params.get(p.name, p.text)} for p in ed.model.params]
    return render_template("ui/editor.html", ed=ed, params=params, tables=tables, fields=fields, general=general,
                           choices=_choices(ed.name),
                           name=name, message=request.form.get("message", ""), max_shown=MAX_SHOWN,
                           **extra), status


@bp.get("/rules/<rs>/edit")
@page(AUTHOR)
def edit_rules(rs):
    ed = _editing(rs, None)
    if not isinstance(ed, Editing):
        return ed
    want = wanted({}, ed.model)
    return _render(ed, want, {}, [])


@bp.post("/rules/<rs>/edit/check")
@page(AUTHOR)
def check_edit(rs):
    ed = _editing(rs, request.form.get("base") or None)
    if not isinstance(ed, Editing):
        return jsonify({"ok": False, "fields": {}, "general": [t("ed_no_base")]}), ed[1]
    want = wanted(request.form, ed.model)
    _, fields, general, edits = _checked(ed, want)
    return jsonify({"ok": not fields and not general, "fields": fields, "general": general, "edits": edits})


@bp.post("/rules/<rs>/edit")
@page(AUTHOR)
def edit_action(rs):
    ed = _editing(rs, request.form.get("base") or None)
    if not isinstance(ed, Editing):
        return ed
    want = wanted(request.form, ed.model)
    do = request.form.get("do", "")
    if do.split(SEP, 1)[0] in OPS:
        operate(do, want, ed.model)
    text, fields, general, edits = _checked(ed, want)
    if do not in ("preview", "save"):
        return _render(ed, want, fields, general)
    if fields or general:
        return _render(ed, want, fields, general, 422, refusal=t("ed_fix_first"))
    if edits == 0:
        return _render(ed, want, fields, general, 422, refusal=t("ed_no_changes"))
    return _finish(ed, text, do, lambda status=200, **extra: _render(ed, want, fields, general, status, **extra))


def _finish(ed: Editing, text: str, do: str, render):
    """Preview the edited text (`render(preview=…)`), or save it as a draft and go to its page."""
    try:
        if do == "preview":
            return render(preview=_preview(ed, text))
        return _save(ed, text, lambda refusal: render(422, refusal=refusal))
    except RulesError as e:  # check_files: the edited file past a bound
        return render(422, refusal="; ".join(str(p) for p in e.problems))


def _snapshot(ed: Editing, text: str) -> Snapshot:
    return check_files({**ed.files, ed.file: text})


def _preview(ed: Editing, text: str) -> dict:
    """The evidence a submit would gather, for the edited version against the active release."""
    # the tooling (check, tests, impact) is loaded only to preview
    from releases.evidence import gather
    gov = _service().governance
    active = gov.active()
    base = gov.snapshot(active) if active else None
    logged = gov.cases(utcnow() - timedelta(days=gov.impact_days))
    # only this rule set's file changed: the decisions of the others come out the same
    evidence = gather(_snapshot(ed, text), base, (e for e in logged if e.get("ruleset") == ed.name),
                      backend=gov.backend)
    return {"evidence": evidence, "impact": _impact(evidence["impact"]), "days": gov.impact_days}


def _save(ed: Editing, text: str, refuse):
    message = request.form.get("message", "").strip()
    if not message:
        return refuse(t("ed_message_required"))
    try:
        rel = _service().governance.create(Actor(g.ui_user, frozenset(g.ui_roles)), _snapshot(ed, text), message,
                                           ed.base)
    except WorkflowError as e:
        return refuse(e.message)
    return redirect(url_for("ui.release_page", rid=rel["id"]))


@bp.get("/rules/<rs>/workbook")
@page(AUTHOR)
def download_workbook(rs):
    """The base release's rule file as the policy workbook (what `aftersales sheet export` writes)."""
    ed = _editing(rs, request.args.get("base") or None)
    if not isinstance(ed, Editing):
        return ed
    text = ed.files[ed.file]
    try:
        ruleset = compile_ruleset(Path(ed.file), files_calendar(ed.files), text)
    except RulesError as e:
        return _error(422, "; ".join(str(p) for p in e.problems[:MAX_SHOWN]))
    return Response(export_workbook(text, ruleset), headers={"Content-Disposition": f"attachment; filename={rs}.xlsx"},
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.post("/rules/<rs>/upload")
@page(AUTHOR)
def upload_workbook(rs):
    """An edited workbook → its preview, or a draft release (the same as the form's buttons)."""
    ed = _editing(rs, request.form.get("base") or None)
    if not isinstance(ed, Editing):
        return ed
    want = wanted({}, ed.model)

    def render(status=200, **extra):
        return _render(ed, want, {}, [], status, **extra)

    upload = request.files.get("workbook")
    data = upload.stream.read(MAX_WORKBOOK_BYTES + 1) if upload is not None else b""
    if not data:
        return render(422, refusal=t("ed_workbook_required"))
    try:
        text = import_workbook(ed.files[ed.file], data, Path(ed.file), files_calendar(ed.files), g.lang)
    except WorkbookError as e:
        return render(422, refusal=f"{(upload.filename or '')[:100]}: " + "; ".join(e.problems[:MAX_SHOWN]))
    except RulesError as e:  # the release's calendar
        return render(422, refusal="; ".join(str(p) for p in e.problems[:MAX_SHOWN]))
    if text == ed.files[ed.file]:
        return render(422, refusal=t("ed_no_changes"))
    return _finish(ed, text, "save" if request.form.get("do") == "save" else "preview", render)
