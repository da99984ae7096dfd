"""What changed between two releases, in the words of the policy, not of a text diff.

Each rule set file of both snapshots is read with the engine's bounded YAML loader and compared
section by section: top-level fields, inputs and outputs (attribute by attribute, enum values one by
one), parameters, lookup tables (row by row, cell by cell), derived facts, validations, stages, rules
by id, decision tables by row id and cell by column name, and the order of stages, rules and rows
(it decides which rule wins). The calendar is compared as the working-day calendar it makes, the rule
tests by their number of cases. Only files whose text differs are read.

Every change is one JSON-ready item {ruleset, kind, change, path, title, old, new, line}: numbers
stay the text YAML holds (never float), `line` is in the new file (in the old one for a removal).
A file that cannot be read is one item naming the problem; nothing here raises.
"""
from __future__ import annotations

import json
from bisect import bisect_left
from datetime import date
from decimal import Decimal
from pathlib import Path

from engine.calendar import WorkCalendar
from engine.errors import RulesError, refusal
from engine.loading.yamlsource import Located, load_yaml, position
from engine.rulebook import read_calendar
from engine.rulebook import CALENDAR_FILE
from releases.snapshot import Snapshot

MAX_CHANGES = 2_000
"""Items listed: a reviewer reads a few hundred; a snapshot rewritten wholesale gives one item per
cell of every file (hundreds of thousands), which no page or response should carry. The rest are
counted, and a last item says how many were left out."""
MAX_TEXT_VALUE = 200
"""Characters of one old or new value in the CLI line (a whole added table can be long)."""
MAX_TEXT_TITLE = 40
"""Characters of a title in the CLI line (some input titles list every enum value)."""

SECTIONS = ("inputs", "outputs", "parameters", "tables", "derived", "validations", "stages")
MEMBERS = ("sources", "needs")
"""List attributes read as sets: each member added or removed is one change. (Enum `values:`, a list
or a mapping of codes to labels, are compared code by code: added, removed, relabelled.)"""
KIND_LABELS = {"ruleset": "规则集", "parameter": "参数", "input": "输入", "output": "输出", "rule": "规则",
               "table": "表", "row": "行", "cell": "单元格", "derived": "派生量", "validation": "校验",
               "stage": "阶段", "calendar": "日历", "tests": "规则测试", "omitted": "未列出"}
PROSE = ("id", "table", "name", "title", "source", "description", "reading")
"""Keys an added or removed entry's CLI line leaves out: named on the line, or prose for the page."""
_MISSING = object()


def diff(old: Snapshot | None, new: Snapshot) -> dict:
    """The changes from `old` (None: the first release) to `new`, and a summary."""
    old_files = old.files if old is not None else {}
    items, counts, total = [], {}, 0
    for item in _changes(old_files, new.files):
        total += 1
        counts[item["ruleset"]] = counts.get(item["ruleset"], 0) + 1
        if len(items) < MAX_CHANGES:
            items.append(item)
    if total > MAX_CHANGES:
        left = total - MAX_CHANGES
        items.append(_item("", "omitted", "omitted", "", f"另有 {left:,} 项变更未列出 ({left:,} more left out)",
                           None, left, None))
    return {"from": old.digest if old is not None else None, "to": new.digest, "changes": items,
            "summary": {"changes": total, "omitted": max(0, total - MAX_CHANGES), "rulesets": counts}}


def format_text(d: dict) -> str:
    """The diff as CLI text: one line per change, then a summary line."""
    lines = [_line_text(item) for item in d["changes"]]
    summary = d["summary"]
    if not summary["changes"]:
        lines.append("无变更 (no changes)")
    else:
        per = "，".join(f"{name or '—'} {n}" for name, n in summary["rulesets"].items())
        lines.append(f"共 {summary['changes']} 项变更 ({summary['changes']} changes): {per}")
    return "\n".join(lines)


# -- files ------------------------------------------------------------------------------------

def _changes(old_files: dict, new_files: dict):
    # by rule set: its file, then its rule tests; the calendar under its own name
    for name in sorted(set(old_files) | set(new_files), key=lambda n: (_owner(n), n.startswith("tests/"), n)):
        a, b = old_files.get(name), new_files.get(name)
        if a == b:
            continue
        if name.startswith("tests/"):
            compare = _tests
        elif name == CALENDAR_FILE:
            compare = _calendar
        else:
            compare = _ruleset
        found = 0
        try:
            for item in compare(name, a, b):
                found += 1
                yield item
        except Exception as e:  # noqa: BLE001 - a shape the comparison did not plan for: one item, never a 500
            found += 1
            yield _unreadable(_owner(name), _tests_path(name) if name.startswith("tests/") else "", None,
                              str(refusal(name, e).problems[0]), 1)
        if not found and a is not None and b is not None:
            yield _item(_owner(name), "ruleset", "changed", "text", "仅注释或格式变化 (comments or layout only)",
                        None, None, _first_difference(a, b))


def _owner(name: str) -> str:
    """The rule set a file belongs to: `warranty` for warranty.yaml and tests/warranty/*.yaml."""
    return name.split("/")[1] if name.startswith("tests/") else name[:-len(".yaml")]


def _tests_path(name: str) -> str:
    """`tests.periods` for tests/warranty/periods.yaml (the item's ruleset names the folder)."""
    return "tests." + name.rsplit("/", 1)[1][:-len(".yaml")]


def _read(name: str, text: str | None, shape=None):
    """(document, problem): the parsed file (None when there is no such file), or the problem text
    and line of why it cannot be read; `shape` is (test of the document, what it must be)."""
    if text is None:
        return None, None
    try:
        doc = load_yaml(text, name)
    except RulesError as e:
        p = e.problems[0]
        return None, (f"{p.file}:{p.line}:{p.column}: {p.message}", p.line)
    if shape and not shape[0](doc):
        return None, (f"{name}:1:1: {shape[1]}", 1)
    return doc, None


def _unreadable(ruleset, path, old_problem, new_problem, line):
    return _item(ruleset, "ruleset", "changed", path, "无法读取 (cannot be read)", old_problem, new_problem, line)


def _ruleset(name: str, a: str | None, b: str | None):
    rs = _owner(name)
    shape = (lambda doc: isinstance(doc, dict), "a rule set file is a mapping (ruleset:, inputs:, stages: …)")
    (da, pa), (db, pb) = _read(name, a, shape), _read(name, b, shape)
    if pa or pb:
        yield _unreadable(rs, "", pa and pa[0], pb and pb[0], (pb or pa)[1])
        return
    if a is None or b is None:
        doc = db if a is None else da
        yield _item(rs, "ruleset", "added" if a is None else "removed", "", _title(doc),
                    None if a is None else _json(doc.get("version")),
                    _json(doc.get("version")) if a is None else None, 1)
        return
    title = _title(db) or _title(da)
    yield from _attrs(rs, "ruleset", "", title, da, db, skip=SECTIONS)
    for section, compare, form in (("inputs", _declarations, dict), ("outputs", _declarations, dict),
                                   ("parameters", _parameters, dict), ("tables", _lookup_tables, dict),
                                   ("derived", _derived, dict), ("validations", _validations, list),
                                   ("stages", _stages, list)):
        sa, sb = da.get(section, _MISSING), db.get(section, _MISSING)
        if _same(sa, sb):
            continue
        if all(s is _MISSING or s is None or isinstance(s, form) for s in (sa, sb)):
            sa, sb = (s if isinstance(s, form) else form() for s in (sa, sb))
            yield from compare(rs, section, sa, sb)
        else:  # a section of the wrong shape (the compiler refuses it): old and new as written
            yield _pair(rs, "ruleset", section, title, sa, sb, _line(da, section), _line(db, section))


def _tests(name: str, a: str | None, b: str | None):
    rs, path = _owner(name), _tests_path(name)
    shape = (lambda doc: isinstance(doc, dict) and isinstance(doc.get("cases"), list),
             "a rule-test file is {ruleset: …, cases: [...]}")
    (da, pa), (db, pb) = _read(name, a, shape), _read(name, b, shape)
    if pa or pb:
        yield _unreadable(rs, path, pa and pa[0], pb and pb[0], (pb or pa)[1])
        return
    na, nb = (len(doc["cases"]) if doc is not None else None for doc in (da, db))
    change = "added" if a is None else "removed" if b is None else "changed"
    line = _first_difference(a, b) if change == "changed" else 1
    yield _item(rs, "tests", change, path, "规则测试用例数 (cases)", na, nb, line)


def _calendar(name: str, a: str | None, b: str | None):
    """Working days the calendar makes, before and after: holidays, make-up working days and the
    years it knows (a year the file drops falls back to the package's data, so only real
    differences show)."""
    rs = _owner(name)
    calendars, docs, problems = [], [], []
    for text in (a, b):
        doc, problem = _read(name, text)
        try:
            cal = read_calendar(Path(name), text) if text is not None and not problem \
                else WorkCalendar.package_only()
        except RulesError as e:
            p = e.problems[0]
            problem = (f"{p.file}:{p.line}:{p.column}: {p.message}", p.line)
            cal = None
        calendars.append(cal)
        docs.append(doc)
        problems.append(problem)
    (ca, cb), (pa, pb) = calendars, problems
    if pa or pb:
        yield _unreadable(rs, "", pa and pa[0], pb and pb[0], (pb or pa)[1])
        return
    for what, title, old, new in (("holidays", "法定节假日（放假）", ca.holidays, cb.holidays),
                                  ("workdays", "调休上班日", ca.workdays, cb.workdays),
                                  ("years", "日历已知年份", ca.known_years, cb.known_years)):
        for change, days, doc in (("added", new - old, docs[1]), ("removed", old - new, docs[0])):
            for d in sorted(days):
                year = d.year if isinstance(d, date) else d
                value = d.isoformat() if isinstance(d, date) else str(d)
                line = _line(doc.get("years") if isinstance(doc, dict) else None, year, 1)
                yield _item(rs, "calendar", change, f"{what}.{value}", title,
                            value if change == "removed" else None, value if change == "added" else None, line)


# -- sections of a rule set -------------------------------------------------------------------

def _declarations(rs, section, a: dict, b: dict):
    """inputs: / outputs: — each declaration added, removed, or changed attribute by attribute."""
    kind = section[:-1]
    for name, va, vb in _union(a, b):
        path = f"{section}.{name}"
        sa, sb = (_spec(v, "type") for v in (va, vb))
        title = _title(sb) or _title(sa)
        if va is _MISSING or vb is _MISSING:
            yield _pair(rs, kind, path, title, va, vb, _line(a, name), _line(b, name))
        else:
            yield from _attrs(rs, kind, path, title, sa, sb, lines=(_line(a, name), _line(b, name)))


def _parameters(rs, section, a: dict, b: dict):
    """parameters: — the value changed is `parameters.<name>`, other attributes `….<attribute>`."""
    for name, va, vb in _union(a, b):
        path = f"parameters.{name}"
        sa, sb = (_spec(v, "value") for v in (va, vb))
        title = _title(sb) or _title(sa)
        la, lb = _line(a, name), _line(b, name)
        if va is _MISSING or vb is _MISSING:
            yield _pair(rs, "parameter", path, title, sa.get("value", _MISSING), sb.get("value", _MISSING), la, lb)
            continue
        value_a, value_b = sa.get("value", _MISSING), sb.get("value", _MISSING)
        if not _same(value_a, value_b):
            yield _pair(rs, "parameter", path, title, value_a, value_b, _line(sa, "value", la), _line(sb, "value", lb))
        yield from _attrs(rs, "parameter", path, title, sa, sb, skip=("value",), lines=(la, lb))


def _lookup_tables(rs, section, a: dict, b: dict):
    """tables: (lookup tables) — rows by key, cells by column."""
    for name, ta, tb in _union(a, b):
        path = f"tables.{name}"
        title = _title(tb) or _title(ta)
        if ta is _MISSING or tb is _MISSING or not isinstance(ta, dict) or not isinstance(tb, dict):
            yield _pair(rs, "table", path, title, ta, tb, _line(a, name), _line(b, name))
            continue
        yield from _attrs(rs, "table", path, title, ta, tb, skip=("rows",))
        ra, rb = ta.get("rows", _MISSING), tb.get("rows", _MISSING)
        if _same(ra, rb):
            continue
        if not isinstance(ra, dict) or not isinstance(rb, dict):
            yield _pair(rs, "table", f"{path}.rows", title, ra, rb, _line(ta, "rows"), _line(tb, "rows"))
            continue
        for key, va, vb in _union(ra, rb):
            row_path = f"{path}.rows.{key}"
            la, lb = _line(ra, key), _line(rb, key)
            if va is _MISSING or vb is _MISSING:
                yield _pair(rs, "row", row_path, title, va, vb, la, lb)
            elif isinstance(va, dict) and isinstance(vb, dict):
                for col, ca, cb in _union(va, vb):
                    if not _same(ca, cb):
                        yield _pair(rs, "cell", f"{row_path}.{col}", title, ca, cb, _line(va, col), _line(vb, col))
            elif not _same(va, vb):
                yield _pair(rs, "cell", row_path, title, va, vb, la, lb)


def _derived(rs, base, a: dict, b: dict):
    """derived: (of the rule set or of a stage) — each fact's expression."""
    for name, va, vb in _union(a, b):
        if not _same(va, vb):
            yield _pair(rs, "derived", f"{base}.{name}", None, va, vb, _line(a, name), _line(b, name))


def _validations(rs, section, a: list, b: list):
    """validations: — unchanged ones are matched first; of the rest, the k-th of a field in the old
    file pairs with the k-th of that field in the new one. Path: validations.<field>.<k>."""
    def keyed(items):
        out, seen = [], {}
        for v in items:
            field = str(v.get("field")) if isinstance(v, dict) else "?"
            seen[field] = seen.get(field, 0) + 1
            out.append((field, seen[field], v))
        return out

    ka, kb = keyed(a), keyed(b)
    unchanged: dict = {}
    for field, k, v in ka:
        unchanged.setdefault(_canon(v), []).append((field, k))
    left_b = []
    for field, k, v in kb:
        bucket = unchanged.get(_canon(v))
        if bucket:
            bucket.pop(0)
        else:
            left_b.append((field, k, v))
    kept = {fk for bucket in unchanged.values() for fk in bucket}
    left_a = [(f, k, v) for f, k, v in ka if (f, k) in kept]
    pool: dict = {}
    for field, k, v in left_a:
        pool.setdefault(field, []).append((k, v))
    for field, k, vb in left_b:
        path, title = f"validations.{field}.{k}", _title(vb, "message")
        if pool.get(field):
            _, va = pool[field].pop(0)
            if isinstance(va, dict) and isinstance(vb, dict):
                yield from _attrs(rs, "validation", path, title or _title(va, "message"), va, vb)
            else:
                yield _pair(rs, "validation", path, title, va, vb, _line(va), _line(vb))
        else:
            yield _pair(rs, "validation", path, title, _MISSING, vb, None, _line(vb))
    for field, rest in pool.items():
        for k, va in rest:
            yield _pair(rs, "validation", f"validations.{field}.{k}", _title(va, "message"), va, _MISSING,
                        _line(va), None)


def _stages(rs, section, a: list, b: list):
    """stages: — stages by name (added, removed, moved, title, derived), then every rule and decision
    table by its id wherever it stands (a rule that changes stage is one change, not two)."""
    sa, sb = _by_name(a), _by_name(b)
    for name, va, vb in _union(sa, sb):
        path = f"stages.{name}"
        title = _title(vb) or _title(va)
        if va is _MISSING or vb is _MISSING:
            ea, eb = ({k: x for k, x in s.items() if k not in ("rules", "derived")} if s is not _MISSING else s
                      for s in (va, vb))  # its rules and derived facts are items of their own
            yield _pair(rs, "stage", path, title, ea, eb, _line(va), _line(vb))
        else:
            yield from _attrs(rs, "stage", path, title, va, vb, skip=("name", "rules", "derived"))
        da, db = (s.get("derived") if s is not _MISSING else None for s in (va, vb))
        yield from _derived(rs, f"{path}.derived", da if isinstance(da, dict) else {},
                            db if isinstance(db, dict) else {})
    for name, pa, pb in _moved([n for n in sa if n in sb], [n for n in sb if n in sa],
                               {n: i for i, n in enumerate(sa, 1)}, {n: i for i, n in enumerate(sb, 1)}):
        yield _item(rs, "stage", "moved", f"stages.{name}", _title(sb[name]), pa, pb, _line(sb[name]))

    ra, rb = _rules(a), _rules(b)
    for key, va, vb in _union(ra, rb):
        kind, rid = key
        path = f"rules.{rid}"
        (spec_a, stage_a, _), (spec_b, stage_b, _) = (v if v is not _MISSING else (_MISSING, None, None)
                                                     for v in (va, vb))
        title = _title(spec_b) or _title(spec_a)
        if va is _MISSING or vb is _MISSING:
            yield _pair(rs, kind, path, title, spec_a, spec_b, _line(spec_a), _line(spec_b))
            continue
        if stage_a != stage_b:
            yield _item(rs, kind, "changed", f"{path}.stage", title, stage_a, stage_b, _line(spec_b))
        if not isinstance(spec_a, dict) or not isinstance(spec_b, dict):
            if not _same(spec_a, spec_b):
                yield _pair(rs, kind, path, title, spec_a, spec_b, _line(spec_a), _line(spec_b))
        elif kind == "table":
            yield from _attrs(rs, "table", path, title, spec_a, spec_b, skip=("table", "rows"))
            yield from _table_rows(rs, rid, title, spec_a, spec_b)
        else:
            yield from _attrs(rs, "rule", path, title, spec_a, spec_b, skip=("id", "then"))
            yield from _then(rs, path, title, spec_a, spec_b)
    same_stage = {k for k in ra if k in rb and ra[k][1] == rb[k][1]}
    for stage in sb:
        for key, pa, pb in _moved([k for k in ra if k in same_stage and ra[k][1] == stage],
                                  [k for k in rb if k in same_stage and rb[k][1] == stage],
                                  {k: v[2] for k, v in ra.items()}, {k: v[2] for k, v in rb.items()}):
            yield _item(rs, key[0], "moved", f"rules.{key[1]}", _title(rb[key][0]), pa, pb, _line(rb[key][0]))


def _then(rs, path, title, a: dict, b: dict):
    ta, tb = a.get("then", _MISSING), b.get("then", _MISSING)
    if _same(ta, tb):
        return
    if isinstance(ta, dict) and isinstance(tb, dict):
        for out, va, vb in _union(ta, tb):
            if not _same(va, vb):
                yield _pair(rs, "rule", f"{path}.then.{out}", title, va, vb, _line(ta, out), _line(tb, out))
    else:
        yield _pair(rs, "rule", f"{path}.then", title, ta, tb, _line(a, "then"), _line(b, "then"))


def _table_rows(rs, tid, table_title, a: dict, b: dict):
    """A decision table's rows by id (a row without one is `<table>.<n>`, as the compiler names it),
    cell by cell by column name, and their order (with `hit: first` the first matching row wins)."""
    ra, rb = _rows(tid, a.get("rows")), _rows(tid, b.get("rows"))
    names_a, names_b = _column_names(a), _column_names(b)
    base = f"rules.{tid}.rows"
    for rid, va, vb in _union(ra, rb):
        path = f"{base}.{rid}"
        title = _title(vb) or _title(va) or table_title
        if va is _MISSING or vb is _MISSING:
            yield _pair(rs, "row", path, title, va, vb, _line(va), _line(vb))
            continue
        if isinstance(va, dict) and isinstance(vb, dict):
            yield from _attrs(rs, "row", path, title, va, vb, skip=("id", "row"))
        cells_a, cells_b = (v.get("row", _MISSING) if isinstance(v, dict) else v for v in (va, vb))
        if _same(cells_a, cells_b) and names_a == names_b:
            continue
        by_a, by_b = _cells(names_a, cells_a), _cells(names_b, cells_b)
        if by_a is None or by_b is None:  # cells and columns do not line up (the compiler refuses it)
            if not _same(cells_a, cells_b):
                yield _pair(rs, "row", f"{path}.row", title, cells_a, cells_b, _line(cells_a), _line(cells_b))
            continue
        for col, ca, cb in _union(by_a, by_b):
            if not _same(ca, cb):
                yield _pair(rs, "cell", f"{path}.cells.{col}", title, ca, cb,
                            _line(ca, default=_line(cells_a)), _line(cb, default=_line(cells_b)))
    for rid, pa, pb in _moved([k for k in ra if k in rb], [k for k in rb if k in ra],
                              {k: i for i, k in enumerate(ra, 1)}, {k: i for i, k in enumerate(rb, 1)}):
        row = rb[rid]
        yield _item(rs, "row", "moved", f"{base}.{rid}", _title(row) or table_title, pa, pb, _line(row))


# -- reading the shapes -----------------------------------------------------------------------

def _spec(value, short_key: str):
    """A declaration as a mapping: `price: money` is {type: money}, `floor: 0.85` is {value: 0.85}."""
    if value is _MISSING or isinstance(value, dict):
        return value if value is not _MISSING else {}
    return {short_key: value}


def _by_name(stages: list) -> dict:
    return {str(s["name"]): s for s in stages if isinstance(s, dict) and "name" in s}


def _rules(stages: list) -> dict:
    """(kind, id) → (spec, stage name, 1-based position in its stage), in file order."""
    out = {}
    for stage in stages:
        if not isinstance(stage, dict) or not isinstance(stage.get("rules"), list):
            continue
        name = str(stage.get("name"))
        for i, spec in enumerate(stage["rules"], 1):
            if isinstance(spec, dict) and "table" in spec:
                key = ("table", str(spec["table"]))
            elif isinstance(spec, dict) and "id" in spec:
                key = ("rule", str(spec["id"]))
            else:  # no id: known only by its place
                key = ("rule", f"{name}#{i}")
            out[key] = (spec, name, i)
    return out


def _rows(tid: str, rows) -> dict:
    if not isinstance(rows, list):
        return {}
    return {str(r["id"]) if isinstance(r, dict) and "id" in r else f"{tid}.{i}": r for i, r in enumerate(rows, 1)}


def _column_names(table: dict) -> list | None:
    cols, outs = table.get("columns"), table.get("outputs")
    if not isinstance(cols, list) or not isinstance(outs, list):
        return None
    return [str(c) for c in cols] + [str(o) for o in outs]


def _cells(names, cells) -> dict | None:
    if names is None or not isinstance(cells, list) or len(cells) != len(names) or len(set(names)) != len(names):
        return None
    return dict(zip(names, cells))


def _union(a: dict, b: dict):
    """(key, old, new) for every key: the new file's order, then the keys only the old one has."""
    for key, vb in b.items():
        yield key, a.get(key, _MISSING), vb
    for key, va in a.items():
        if key not in b:
            yield key, va, _MISSING


def _moved(old_order: list, new_order: list, old_pos: dict, new_pos: dict):
    """(name, old position, new position) of the names whose order changed: all but a longest run
    kept in the same order (longest increasing subsequence, n log n)."""
    seq = list(new_order)
    index = {n: i for i, n in enumerate(old_order)}
    tails, tails_at, prev = [], [], [None] * len(seq)
    for i, n in enumerate(seq):
        k = bisect_left(tails, index[n])
        if k == len(tails):
            tails.append(index[n])
            tails_at.append(i)
        else:
            tails[k], tails_at[k] = index[n], i
        prev[i] = tails_at[k - 1] if k else None
    keep, i = set(), tails_at[-1] if tails_at else None
    while i is not None:
        keep.add(seq[i])
        i = prev[i]
    return [(n, old_pos[n], new_pos[n]) for n in seq if n not in keep]


# -- comparing and rendering values -----------------------------------------------------------

def _attrs(rs, kind, base, title, a: dict, b: dict, skip=(), lines=(None, None)):
    """One item per key whose value differs; a set-like list (sources) per member, enum values by code."""
    for key, va, vb in _union(a, b):
        if key in skip:
            continue
        path = f"{base}.{key}" if base else str(key)
        la, lb = _line(a, key, lines[0]), _line(b, key, lines[1])
        labels_a, labels_b = (_enum_labels(v) if key == "values" else None for v in (va, vb))
        if labels_a is not None and labels_b is not None:  # (a mapping in another order is not _same)
            yield from _enum_values(rs, kind, path, title, labels_a, labels_b, la, lb)
            continue
        if _same(va, vb):
            continue
        if key in MEMBERS and isinstance(va, list) and isinstance(vb, list) \
                and not any(isinstance(v, (list, dict)) for v in va + vb):
            ca, cb = {_canon(v): v for v in va}, {_canon(v): v for v in vb}
            for c, v in cb.items():
                if c not in ca:
                    yield _item(rs, kind, "added", f"{path}.{_json(v)}", title, None, _json(v), _line(v, default=lb))
            for c, v in ca.items():
                if c not in cb:
                    yield _item(rs, kind, "removed", f"{path}.{_json(v)}", title, _json(v), None, _line(v, default=la))
            if set(ca) == set(cb):  # the same members in another order
                yield _item(rs, kind, "changed", path, title, _json(va), _json(vb), lb)
            continue
        yield _pair(rs, kind, path, title, va, vb, la, lb, render=_condition if key == "when" else _json)


def _enum_labels(values) -> dict | None:
    """An enum's `values:` as {code: (label, line)}: a list's codes are their own labels (as the
    compiler reads them); None for another shape (compared as written)."""
    if isinstance(values, dict) and not any(isinstance(v, (list, dict)) for v in values.values()):
        return {_json(c): (label, _line(values, c)) for c, label in values.items()}
    if isinstance(values, list) and not any(isinstance(v, (list, dict)) for v in values):
        return {_json(c): (c, _line(c)) for c in values}
    return None


def _enum_values(rs, kind, path, title, a: dict, b: dict, la, lb):
    """Enum values one by one: a code added or removed (with its label), a code relabelled, or the same
    codes in another order (the order of a form's select)."""
    for code, (label, line) in b.items():
        if code not in a:
            yield _item(rs, kind, "added", f"{path}.{code}", title, None, _json(label), line or lb)
        elif not _same(a[code][0], label):
            yield _item(rs, kind, "changed", f"{path}.{code}", title, _json(a[code][0]), _json(label), line or lb)
    for code, (label, line) in a.items():
        if code not in b:
            yield _item(rs, kind, "removed", f"{path}.{code}", title, _json(label), None, line or la)
    if set(a) == set(b) and list(a) != list(b):
        yield _item(rs, kind, "changed", path, title, list(a), list(b), lb)


def _pair(rs, kind, path, title, va, vb, la, lb, render=None):
    """The item for one value: added (no old), removed (no new) or changed."""
    render = render or _json
    if va is _MISSING:
        return _item(rs, kind, "added", path, title, None, render(vb), lb)
    if vb is _MISSING:
        return _item(rs, kind, "removed", path, title, render(va), None, la)
    return _item(rs, kind, "changed", path, title, render(va), render(vb), lb)


def _item(ruleset, kind, change, path, title, old, new, line) -> dict:
    return {"ruleset": ruleset, "kind": kind, "change": change, "path": path, "title": title,
            "old": old, "new": new, "line": line}


def _title(node, key="title"):
    if not isinstance(node, dict):
        return None
    value = node.get(key)
    return " ".join(str(value).split()) if value is not None and not isinstance(value, (dict, list)) else None


def _line(node, key=_MISSING, default=None):
    """Line of a mapping's key, or of a node that knows its position (a date or number does not)."""
    if node is _MISSING or node is None:
        return default
    if key is not _MISSING:
        return position(node, key)[0] if isinstance(node, Located) and key in node else default
    return getattr(node, "line", 0) or default


def _canon(v):
    """A hashable form for comparing: whitespace runs count as one space (a re-wrapped expression
    is the same), 0.85 equals 0.850, but a whole number and a decimal differ (their types do); a
    mapping's order does not count, but for an enum's `values:` (the order of a form's select)."""
    if v is _MISSING:
        return ("missing",)
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, Decimal):
        return ("decimal", v)
    if isinstance(v, str):
        return ("str", " ".join(v.split()))
    if isinstance(v, dict):
        return ("map", tuple(sorted(((str(k), _canon(x) if k != "values" or not isinstance(x, dict)
                                      else ("list", tuple((_canon(c), _canon(t)) for c, t in x.items())))
                                     for k, x in v.items()), key=lambda kv: kv[0])))
    if isinstance(v, list):
        return ("list", tuple(_canon(x) for x in v))
    return (type(v).__name__, v if isinstance(v, date) else str(v))


def _same(a, b) -> bool:
    return _canon(a) == _canon(b)


def _json(v):
    """A YAML value as JSON: numbers as their exact text, dates in ISO form."""
    if v is None or v is _MISSING or isinstance(v, bool):
        return None if v is _MISSING else v
    if isinstance(v, (int, Decimal)):
        return str(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): _json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json(x) for x in v]
    return str(v)


def _condition(node) -> str:
    """A `when:` as one line of text: a list is `and`, `any:` is `or`."""
    if isinstance(node, list):
        return " and ".join(_operand(n) for n in node)
    if isinstance(node, dict) and len(node) == 1:
        key, value = next(iter(node.items()))
        if key in ("any", "all") and isinstance(value, list):
            return "(" + f" {'or' if key == 'any' else 'and'} ".join(_operand(n) for n in value) + ")"
        if key == "not":
            return f"not ({_condition(value)})"
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, str):
        return " ".join(node.split())
    return json.dumps(_json(node), ensure_ascii=False)


def _operand(node) -> str:
    text = _condition(node)
    return f"({text})" if isinstance(node, str) and (" or " in text or " if " in text) else text


def _first_difference(a: str, b: str) -> int:
    la, lb = a.splitlines(), b.splitlines()
    return next((i for i, (x, y) in enumerate(zip(la, lb), 1) if x != y), min(len(la), len(lb)) + 1)


# -- text -------------------------------------------------------------------------------------

def _line_text(item: dict) -> str:
    kind, change = item["kind"], item["change"]
    if kind == "omitted":
        return f"… {item['title']}"
    path = item["path"]
    name = path.split(".", 1)[1] if path.split(".", 1)[0] in SECTIONS + ("rules", "tests") and "." in path \
        else path
    title = item["title"] or ""
    if len(title) > MAX_TEXT_TITLE:
        title = title[:MAX_TEXT_TITLE] + "…"
    head = f"{item['ruleset']}  {KIND_LABELS.get(kind, kind)}" + (f" {name}" if name else "") \
        + (f"（{title}）" if title else "")
    if change == "added":
        body = " 新增" + (f": {_value_text(item['new'])}" if _value_text(item["new"]) else "")
    elif change == "removed":
        body = " 删除" + (f" (原为 {_value_text(item['old'])})" if _value_text(item["old"]) else "")
    elif change == "moved":
        body = f" 移动: 第 {item['old']} 位 → 第 {item['new']} 位"
    elif item["old"] is None and item["new"] is None:  # only comments or layout changed
        body = ""
    else:
        body = f": {_value_text(item['old'])} → {_value_text(item['new'])}"
    where = f"   ({_file(item)}:{item['line']})" if item["line"] else f"   ({_file(item)})"
    return head + body + where


def _file(item: dict) -> str:
    if item["kind"] == "tests" or item["path"].startswith("tests."):
        return f"tests/{item['ruleset']}/{item['path'].split('.', 1)[1]}.yaml"
    if item["kind"] == "calendar" or item["ruleset"] == CALENDAR_FILE[:-len(".yaml")]:
        return CALENDAR_FILE
    return f"{item['ruleset']}.yaml"


def _value_text(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        text = "true" if v else "false"
    elif isinstance(v, dict):  # a whole entry: its substance (the title is on the line already)
        substance = {k: x for k, x in v.items() if k not in PROSE}
        text = json.dumps(substance, ensure_ascii=False) if substance else ""
    elif isinstance(v, list):
        text = json.dumps(v, ensure_ascii=False)
    else:
        text = " ".join(str(v).split())
    return text if len(text) <= MAX_TEXT_VALUE else text[:MAX_TEXT_VALUE] + "…"
