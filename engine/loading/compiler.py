"""Compile one rule-set YAML document into the decision model.

Strict: every problem found is collected with its file, line, column and rule id,
and reported together, so a policy owner fixes a file in one pass.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from engine.calendar import WorkCalendar
from engine.evaluation.case import case_schema
from engine.errors import ExpressionError, Problem, RulesError, did_you_mean, refusal
from engine.language.conditions import reads
from engine.language.expressions import Expr, Symbol, compile_expression
from engine.language.functions import CALENDAR_FUNCTIONS, builtin_functions, unify
from engine.model import (Accept, All, AnyOf, Atom, Derived, Input, Not, Output, Parameter, Rule, RuleSet, Stage, Table,
                    Validation)
from engine.types import ALIASES, ANY, BOOLEAN, DATE, DATETIME, SCALARS, Type, parse_value
from engine.loading.yamlsource import LocStr, Located, load_yaml, position, read_rule_file

TOP_KEYS = ("ruleset", "title", "version", "decides", "sources", "effective_date", "inputs", "validations",
            "parameters", "tables", "derived", "outputs", "stages", "description")
INPUT_KEYS = ("type", "title", "required", "default", "min", "max", "values", "of", "min_items", "max_items",
              "pii", "group", "description")
OUTPUT_KEYS = ("type", "title", "values", "of", "combine", "default", "required", "accept", "description")
RULE_KEYS = ("id", "title", "source", "priority", "effective_from", "effective_to", "when", "then", "accept",
             "description", "needs")
TABLE_KEYS = ("table", "title", "source", "priority", "effective_from", "effective_to", "hit", "columns",
              "outputs", "rows", "when", "accept", "description")
ACCEPT_KEYS = ("finding", "with", "output", "reason")
RULE_FINDINGS = ("dead", "overlap", "conflict")
COMBINE = ("priority", "first", "unique", "collect")
HITS = ("first", "unique", "collect")
BUILTINS = {"today": Symbol("today", DATE, "builtin"), "as_of": Symbol("as_of", DATETIME, "builtin")}
MAX_LABEL = 200
"""Characters of an enum value's label: one line of a select, a spreadsheet drop-down and a message
listing every value (the longest shipped label has 30)."""
_CELL_OP = re.compile(r"^\s*(<=|>=|==|!=|<|>|not\s+in\b|in\b)")


class _Collector:
    """Gathers problems for one file; `at` locates a node or one key of a mapping."""

    def __init__(self, filename: str):
        self.filename = filename
        self.problems: list[Problem] = []

    def add(self, node, message, key=None, rule_id=None, offset=0):
        line, col = position(node, key)
        if isinstance(node, LocStr) and key is None:
            col += offset + (1 if node.quoted else 0)
        self.problems.append(Problem(self.filename, line, col, message, rule_id))


def _unknown_keys(c: _Collector, node: dict, allowed, what: str, rule_id=None):
    for key in node:
        if key not in allowed:
            hint = did_you_mean(key, allowed) or f" (allowed: {', '.join(allowed)})"
            c.add(node, f"unknown key {key!r} in {what}{hint}", key=key, rule_id=rule_id)


def _plain(value):
    """YAML-native value → the JSON-like form `parse_value` reads."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _infer_type(value) -> Type | None:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return Type("integer")
    if isinstance(value, Decimal):
        return Type("decimal")
    if isinstance(value, datetime):
        return DATETIME
    if isinstance(value, date):
        return DATE
    if isinstance(value, str):
        return Type("string")
    if isinstance(value, list):
        items = [_infer_type(v) for v in value]
        if any(t is None for t in items):
            return None
        try:
            return Type("list", item=unify(items, "the list") if items else Type("string"))
        except ExpressionError:  # items of different types: the caller asks for a `type:`
            return None
    return None


def _typed(value, t: Type):
    """A YAML value read as type t (decimals given as integers are fine)."""
    if t.kind == "decimal" and isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if t.kind == "money" and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return Decimal(value)
    return parse_value(_plain(value), t)


class _RuleSetCompiler:
    def __init__(self, path: Path, text: str, calendar: WorkCalendar):
        self.path = path
        self.text = text
        self.c = _Collector(str(path))
        self.functions = builtin_functions(calendar)
        self.calendar = calendar
        self.scope: dict[str, Symbol] = dict(BUILTINS)
        self.attempted_outputs: set[str] = set()  # named in some `then`, even one that failed to compile
        self.accept_refs: list = []  # (node, rule id, Accept), checked once every rule is known
        self.case_inputs: dict[str, Input] = {}  # the declared inputs, for `needs`
        self.called: set[str] = set()  # the functions its expressions call: the calendar's join the digest

    # -- helpers -----------------------------------------------------------------------
    def expr(self, node, text, expect: Type | None = None, rule_id=None, scope=None) -> Expr | None:
        if isinstance(text, bool) or text is None or isinstance(text, (dict, list)):
            self.c.add(node, "expected an expression (text)", rule_id=rule_id)
            return None
        try:
            compiled = compile_expression(str(text), scope or self.scope, self.functions, expect)
            self.called |= compiled.functions
            return compiled
        except ExpressionError as e:
            target = text if isinstance(text, LocStr) else node
            lead = len(str(text)) - len(str(text).lstrip())
            self.c.add(target, f"{e.message} (in: {str(text).strip()})", rule_id=rule_id, offset=e.offset + lead)
            return None

    def type_of(self, node, spec: dict, where: str) -> Type | None:
        kind = spec.get("type")
        if kind is None:
            self.c.add(spec, f"{where}: missing 'type'")
            return None
        kind = ALIASES.get(str(kind), str(kind))
        if kind == "enum":
            return self.enum_type(spec, where)
        if kind == "list":
            item_spec = spec.get("of", "string")
            item = self.type_of(node, item_spec if isinstance(item_spec, dict) else Located(type=item_spec), where)
            return Type("list", item=item) if item else None
        if kind not in SCALARS:
            self.c.add(spec, f"{where}: unknown type {kind!r} (types: {', '.join(SCALARS)}, list)", key="type")
            return None
        return Type(kind)

    def enum_type(self, spec: dict, where: str) -> Type | None:
        """`values: {code: 标签, …}` (the codes the API speaks, the labels people read) or the
        older `values: [code, …]`, where each code is its own label."""
        values = spec.get("values")
        mapping = isinstance(values, dict)
        if not values or not isinstance(values, (dict, list)):
            self.c.add(spec, f"{where}: an enum needs 'values', codes with their labels "
                             "({repair: 修理, return: 退货}) or a list of codes",
                       key="values" if "values" in spec else "type")
            return None
        labels: dict[str, str] = {}  # code → label
        codes: dict[str, str] = {}  # label → code
        for code, text in (values.items() if mapping else ((v, v) for v in values)):
            if not isinstance(code, str):
                problem = f"the enum code {code!r} is not text (quote it)"
            elif not code.strip():
                problem = "an enum code is empty"
            elif code in labels:  # (a mapping's key given twice is refused by the YAML loader)
                problem = f"the enum code {code!r} is given twice"
            elif not isinstance(text, str) or not text.strip():
                problem = f"the enum code {code!r} needs a label, a text (not {text!r})"
            elif len(text) > MAX_LABEL or "\n" in text:
                problem = f"the label of {code!r} must be one line of at most {MAX_LABEL} characters"
            elif text in codes:
                problem = f"the label {text!r} of {code!r} is also the label of {codes[text]!r}"
            else:
                labels[str(code)], codes[text] = str(text), str(code)
                continue
            if mapping:
                self.c.add(values, f"{where}: {problem}", key=code)
            else:
                self.c.add(code if isinstance(code, LocStr) else values, f"{where}: {problem}")
        return Type("enum", values=tuple(labels), labels=tuple(labels.items()))

    def literal(self, node, value, t: Type, what: str, rule_id=None):
        try:
            return _typed(value, t)
        except ValueError as e:
            self.c.add(node, f"{what}: {value!r} — {e}", rule_id=rule_id)
            return None

    def define(self, node, sym: Symbol, key=None):
        if sym.name in self.scope:
            other = self.scope[sym.name].kind
            self.c.add(node, f"{sym.name!r} is already defined (as {'a built-in' if other == 'builtin' else 'an ' + other if other[0] in 'aeiou' else 'a ' + other})", key=key)
            return
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", sym.name):
            self.c.add(node, f"{sym.name!r} is not a valid name (letters, digits, '_'; starts with a letter)", key=key)
            return
        self.scope[sym.name] = sym

    # -- sections ----------------------------------------------------------------------
    def compile(self) -> RuleSet:
        doc = load_yaml(self.text, str(self.path))
        if not isinstance(doc, dict):
            raise RulesError([Problem(str(self.path), 1, 1, "a rule set file is a mapping (ruleset:, inputs:, stages: …)")])
        _unknown_keys(self.c, doc, TOP_KEYS, "the rule set")
        name = doc.get("ruleset")
        if name != self.path.stem:
            self.c.add(doc, f"'ruleset: {name}' must match the file name {self.path.stem!r}",
                       key="ruleset" if "ruleset" in doc else None)
        version = doc.get("version")
        if version is None:
            self.c.add(doc, "missing 'version' (a label such as \"2026.1\")")
        inputs = self.case_inputs = self.inputs(doc.get("inputs") or Located())
        params = self.parameters(doc.get("parameters") or Located())
        tables = self.tables(doc.get("tables") or Located())
        derived = self.derived(doc.get("derived") or Located())
        validations = self.validations(doc.get("validations") or [])
        eff = None
        if "effective_date" in doc:
            eff = self.expr(doc, doc["effective_date"], DATE)
        outputs = self.outputs(doc.get("outputs") or Located())
        stages = self.stages(doc.get("stages") or [], outputs)
        self.check_requirements(doc.get("outputs"), outputs, stages)
        for o in outputs.values():
            if not o.stage and o.name not in self.attempted_outputs:
                self.c.add(doc.get("outputs"), f"output {o.name!r} is set by no rule", key=o.name)
        if self.c.problems:
            raise RulesError(self.c.problems)
        # the calendar is part of the version when an expression calls one of its functions (not
        # when a comment or a title names one)
        uses_calendar = bool(self.called & CALENDAR_FUNCTIONS)
        blob = self.text.encode() + (self.calendar.digest_text.encode() if uses_calendar else b"")
        return RuleSet(
            name=str(name), title=str(doc.get("title", name)), version=str(version),
            digest="sha256:" + hashlib.sha256(blob).hexdigest(), path=str(self.path),
            decides=str(doc.get("decides", "")), sources=tuple(str(s) for s in doc.get("sources") or ()),
            effective_date=eff, inputs=inputs, parameters=params, tables=tables, derived=derived,
            outputs=outputs, stages=stages, validations=validations,
            base_env={p.name: p.value for p in params.values()}, case_schema=case_schema(str(name), inputs),
            fact_types={n: s.type for n, s in self.scope.items() if s.kind != "table"} |
                       {n: o.result_type for n, o in outputs.items()})

    def inputs(self, node) -> dict[str, Input]:
        out = {}
        if not isinstance(node, dict):
            self.c.add(node, "'inputs' is a mapping of field name → {type: …}")
            return out
        for name, spec in node.items():
            if isinstance(spec, str):
                spec = Located(type=spec)
                spec.line, spec.column = node.pos(name)
            if not isinstance(spec, dict):
                self.c.add(node, f"input {name}: expected {{type: …, title: …}}", key=name)
                continue
            _unknown_keys(self.c, spec, INPUT_KEYS, f"input {name}")
            t = self.type_of(node, spec, f"input {name}")
            if t is None:
                continue
            default = None
            if "default" in spec and spec["default"] is not None:
                default = self.literal(spec, spec["default"], t, f"input {name} default")
            bounds = {}
            for key in ("min", "max"):
                if key in spec:
                    if not t.numeric:
                        self.c.add(spec, f"input {name}: '{key}' applies to numbers only", key=key)
                    else:
                        bounds[key] = self.literal(spec, spec[key], Type("decimal"), f"input {name} {key}")
            inp = Input(name=str(name), type=t, title=str(spec.get("title", "")), required=bool(spec.get("required", False)),
                        default=default, minimum=bounds.get("min"), maximum=bounds.get("max"),
                        min_items=spec.get("min_items"), max_items=spec.get("max_items"),
                        pii=bool(spec.get("pii", False)), group=str(spec.get("group", "")),
                        description=str(spec.get("description", "")))
            self.define(node, Symbol(inp.name, t, "input"), key=name)
            out[inp.name] = inp
        return out

    def parameters(self, node) -> dict[str, Parameter]:
        out = {}
        for name, spec in (node.items() if isinstance(node, dict) else []):
            long_form = isinstance(spec, dict)
            value = spec.get("value") if long_form else spec
            if long_form:
                _unknown_keys(self.c, spec, ("value", "type", "title", "source", "reading", "of", "values", "description"),
                              f"parameter {name}")
            t = self.type_of(node, spec, f"parameter {name}") if long_form and "type" in spec else _infer_type(value)
            if t is None:
                self.c.add(node, f"parameter {name}: cannot tell the type of {value!r}; add 'type:'", key=name)
                continue
            typed = self.literal(node, value, t, f"parameter {name}") if value is not None else None
            if value is None:
                self.c.add(node, f"parameter {name} has no value", key=name)
            p = Parameter(str(name), t, typed, str(spec.get("title", "")) if long_form else "",
                          str(spec.get("source", "")) if long_form else "", str(spec.get("reading", "")) if long_form else "")
            self.define(node, Symbol(p.name, t, "parameter", typed), key=name)
            out[p.name] = p
        return out

    def tables(self, node) -> dict[str, Table]:
        out = {}
        for name, spec in (node.items() if isinstance(node, dict) else []):
            if not isinstance(spec, dict) or not isinstance(spec.get("rows"), dict) or not spec["rows"]:
                self.c.add(node, f"table {name}: expected {{rows: {{key: value}}}}", key=name)
                continue
            _unknown_keys(self.c, spec, ("title", "source", "rows", "description", "reading"), f"table {name}")
            rows = spec["rows"]
            columned = all(isinstance(v, dict) for v in rows.values())
            if not columned and any(isinstance(v, dict) for v in rows.values()):
                self.c.add(spec, f"table {name}: mix of plain values and column rows", key="rows")
                continue
            types: dict = {}
            try:
                if columned:
                    columns = tuple(dict.fromkeys(k for v in rows.values() for k in v))
                    for col in columns:
                        ts = [_infer_type(v[col]) for v in rows.values() if col in v]
                        types[col] = unify([t for t in ts if t], f"column {col}") if all(ts) else None
                else:
                    columns = ()
                    ts = [_infer_type(v) for v in rows.values()]
                    types[None] = unify([t for t in ts if t], f"table {name}") if all(ts) else None
            except ExpressionError as e:  # values of different types in one column
                self.c.add(spec, f"table {name}: {e.message}", key="rows")
                continue
            if any(t is None for t in types.values()):
                self.c.add(spec, f"table {name}: a value of unknown type", key="rows")
                continue

            def conv(v, t):
                return Decimal(v) if t.kind == "decimal" and isinstance(v, int) else v
            data = {(str(k) if isinstance(k, str) else k):
                    ({c: conv(v[c], types[c]) for c in v} if columned else conv(v, types[None]))
                    for k, v in rows.items()}
            table = Table(str(name), str(spec.get("title", "")), str(spec.get("source", "")), data, columns)
            self.define(node, Symbol(table.name, Type("table", values=columns), "table", data, types), key=name)
            out[table.name] = table
        return out

    def derived(self, node, rule_id=None) -> tuple:
        out = []
        if not isinstance(node, dict):
            self.c.add(node, "'derived' is a mapping of name → expression, in order")
            return ()
        for name, text in node.items():
            e = self.expr(node, text, rule_id=rule_id) if not isinstance(text, LocStr) else self.expr(text, text, rule_id=rule_id)
            if e is None:  # reported; define it loosely so its users do not repeat the error
                self.scope.setdefault(str(name), Symbol(str(name), ANY, "derived"))
                continue
            if e.type.kind in ("null", "any"):
                self.c.add(node, f"derived {name}: cannot tell its type; wrap it (e.g. coalesce(x, 0))", key=name)
                continue
            self.define(node, Symbol(str(name), e.type, "derived"), key=name)
            out.append(Derived(str(name), e))
        return tuple(out)

    def validations(self, node) -> tuple:
        out = []
        for spec in node if isinstance(node, list) else []:
            if not isinstance(spec, dict) or "require" not in spec or "field" not in spec:
                self.c.add(spec, "a validation is {field: …, require: <expression>, message: …}")
                continue
            if spec["field"] not in self.scope or self.scope[spec["field"]].kind != "input":
                self.c.add(spec, f"validation names unknown input {spec['field']!r}", key="field")
            e = self.expr(spec, spec["require"], BOOLEAN)
            if e is not None:
                out.append(Validation(str(spec["field"]), e, str(spec.get("message", f"fails: {e.text}"))))
        return tuple(out)

    def outputs(self, node) -> dict[str, Output]:
        out = {}
        for name, spec in (node.items() if isinstance(node, dict) else []):
            if not isinstance(spec, dict):
                self.c.add(node, f"output {name}: expected {{type: …}}", key=name)
                continue
            _unknown_keys(self.c, spec, OUTPUT_KEYS, f"output {name}")
            t = self.type_of(node, spec, f"output {name}")
            combine = str(spec.get("combine", "priority"))
            if combine not in COMBINE:
                self.c.add(spec, f"output {name}: combine must be one of {', '.join(COMBINE)}", key="combine")
            if t is None:
                continue
            default = None
            if spec.get("default") is not None:
                default = self.literal(spec, spec["default"], Type("list", item=t) if combine == "collect" else t,
                                       f"output {name} default")
            if name in self.scope:
                self.c.add(node, f"output {name!r} has the name of an {self.scope[name].kind}", key=name)
            required = spec.get("required")
            if required is not None and not isinstance(required, (bool, str)):
                self.c.add(spec, f"output {name}: required is true, false or a condition", key="required")
                required = None
            out[str(name)] = Output(str(name), t, str(spec.get("title", "")), combine, default,
                                    required=required, line=node.pos(name)[0],
                                    accept=self.accepts(spec, None, ("gap",)))
        return out

    def stages(self, node, outputs: dict[str, Output]) -> tuple:
        stages, seen_ids, index = [], {}, 0
        if not isinstance(node, list) or not node:
            self.c.add(node if node else Located(), "'stages' is a list of {name:, rules: […]}")
            return ()
        for spec in node:
            if not isinstance(spec, dict) or "name" not in spec:
                self.c.add(spec, "a stage is {name: …, rules: […]}")
                continue
            _unknown_keys(self.c, spec, ("name", "title", "derived", "rules", "description"), f"stage {spec['name']}")
            stage_name = str(spec["name"])
            derived = self.derived(spec.get("derived") or Located())
            rules: list[Rule] = []
            for rspec in spec.get("rules") or []:
                if isinstance(rspec, dict) and "table" in rspec:
                    new = self.decision_table(rspec, stage_name, outputs, index)
                else:
                    new = [r for r in [self.rule(rspec, stage_name, outputs, index)] if r]
                for r in new:
                    if r.id in seen_ids:
                        self.c.add(rspec, f"duplicate rule id {r.id} (also at line {seen_ids[r.id]})", rule_id=r.id)
                    seen_ids[r.id] = r.line
                rules.extend(new)
                index += len(new) or 1
            decided = tuple(dict.fromkeys(o for r in rules for o in r.then))
            for o in decided:
                if outputs[o].stage and outputs[o].stage != stage_name:
                    self.c.add(spec, f"output {o!r} is already decided in stage {outputs[o].stage!r}; "
                                     f"each output is decided by one stage", key="name")
                outputs[o] = _replace_stage(outputs[o], stage_name)
            # The outputs of this stage become facts for the stages after it.
            for o in decided:
                if o not in self.scope:
                    self.scope[o] = Symbol(o, outputs[o].result_type, "output")
            stages.append(Stage(stage_name, str(spec.get("title", "")), derived, tuple(rules), decided))
        return tuple(stages)

    def _dates(self, spec, rule_id):
        out = []
        for key in ("effective_from", "effective_to"):
            v = spec.get(key)
            if v is None:
                out.append(None)
            elif isinstance(v, date):
                out.append(v)
            else:
                self.c.add(spec, f"{key}: {v!r} is not a date YYYY-MM-DD", key=key, rule_id=rule_id)
                out.append(None)
        if out[0] and out[1] and out[0] > out[1]:
            self.c.add(spec, "effective_from is after effective_to", key="effective_from", rule_id=rule_id)
        return out

    def _priority(self, spec, rule_id):
        p = spec.get("priority", 0)
        if not isinstance(p, int) or isinstance(p, bool):
            self.c.add(spec, "priority must be a whole number", key="priority", rule_id=rule_id)
            return 0
        return p

    def condition(self, node, rule_id, parent=None):
        """YAML condition → All/AnyOf/Not/Atom. A list means all of it."""
        if isinstance(node, list):
            items = [self.condition(n, rule_id, node) for n in node]
            return All(tuple(i for i in items if i is not None))
        if isinstance(node, dict):
            if len(node) != 1 or next(iter(node)) not in ("all", "any", "not"):
                self.c.add(node, "a condition is an expression, a list, or one of all: / any: / not:", rule_id=rule_id)
                return None
            key, value = next(iter(node.items()))
            if key == "not":
                inner = self.condition(value, rule_id, node)
                return Not(inner) if inner is not None else None
            if not isinstance(value, list) or not value:
                self.c.add(node, f"'{key}' takes a list of conditions", key=key, rule_id=rule_id)
                return None
            items = tuple(i for i in (self.condition(n, rule_id, node) for n in value) if i is not None)
            return All(items) if key == "all" else AnyOf(items)
        if isinstance(node, bool):
            node = LocStr("true" if node else "false")
        e = self.expr(parent if not isinstance(node, LocStr) else node, node, BOOLEAN, rule_id=rule_id)
        return Atom(e, getattr(node, "line", 0)) if e is not None else None

    def then(self, spec, node, outputs, rule_id) -> dict:
        out = {}
        if not isinstance(node, dict) or not node:
            self.c.add(spec, "'then' is a mapping of output → value", key="then", rule_id=rule_id)
            return out
        for name, value in node.items():
            o = outputs.get(name)
            self.attempted_outputs.add(str(name))
            if o is None:
                self.c.add(node, f"unknown output {name!r}" + did_you_mean(name, outputs), key=name, rule_id=rule_id)
                continue
            out[str(name)] = self.output_value(node, name, value, o, rule_id)
        return {k: v for k, v in out.items() if v is not None}

    def output_value(self, node, name, value, o: Output, rule_id) -> Expr | None:
        if isinstance(value, str) and value.lstrip().startswith("="):
            text = value.lstrip()[1:]
            loc = LocStr(text)
            loc.line, loc.column = getattr(value, "line", 0), getattr(value, "column", 0) + len(value) - len(text)
            loc.quoted = getattr(value, "quoted", False)
            return self.expr(loc, loc, o.type, rule_id=rule_id)
        typed = self.literal(node if not isinstance(value, LocStr) else value, value, o.type,
                             f"output {name}", rule_id=rule_id)
        if typed is None and value is not None:
            return None
        return Expr(repr(value), (lambda env, v=typed: v), o.type, frozenset(), None, True)

    def accepts(self, spec, rule_id, findings=RULE_FINDINGS) -> tuple:
        """`accept: [{finding: overlap, with: W-123, output: remedy, reason: "…"}]` — findings of
        `aftersales check` the policy owner has looked at and accepts, each with its reason."""
        node = spec.get("accept")
        if node is None:
            return ()
        if not isinstance(node, list):
            self.c.add(spec, "accept is a list of {finding: …, reason: …}", key="accept", rule_id=rule_id)
            return ()
        out = []
        for item in node:
            if not isinstance(item, dict):
                self.c.add(node, "accept is a list of {finding: …, reason: …}", rule_id=rule_id)
                continue
            _unknown_keys(self.c, item, ACCEPT_KEYS, "accept", rule_id=rule_id)
            finding = str(item.get("finding", ""))
            if finding not in findings:
                self.c.add(item, f"accept: finding must be {' or '.join(findings)} here",
                           key="finding" if "finding" in item else None, rule_id=rule_id)
                continue
            reason = str(item.get("reason") or "").strip()
            if not reason:
                self.c.add(item, "accept: give the reason the finding is accepted", rule_id=rule_id)
                continue
            other = item.get("with")
            out.append(Accept(finding, reason, str(other) if other is not None else None,
                              str(item["output"]) if item.get("output") is not None else None, item.line))
            self.accept_refs.append((item, rule_id, out[-1]))
        return tuple(out)

    def check_requirements(self, node, outputs: dict[str, Output], stages):
        """Compile each output's `required:` condition (it may read every fact and output) and
        check that `accept` entries name rules and outputs that exist."""
        for name, o in list(outputs.items()):
            if isinstance(o.required, str):
                spec = node[name]
                e = self.expr(spec["required"] if isinstance(spec["required"], LocStr) else spec,
                              spec["required"], BOOLEAN)
                outputs[name] = replace(o, required=e)
        ids = {r.id for s in stages for r in s.rules}
        for item, rule_id, a in self.accept_refs:
            if a.with_rule is not None and a.with_rule not in ids:
                self.c.add(item, f"accept: no rule {a.with_rule!r}" + did_you_mean(a.with_rule, ids), key="with", rule_id=rule_id)
            if a.output is not None and a.output not in outputs:
                self.c.add(item, f"accept: unknown output {a.output!r}" + did_you_mean(a.output, outputs), key="output",
                           rule_id=rule_id)

    def rule(self, spec, stage, outputs, index) -> Rule | None:
        if not isinstance(spec, dict) or "id" not in spec:
            self.c.add(spec, "a rule needs an 'id'")
            return None
        rid = str(spec["id"])
        _unknown_keys(self.c, spec, RULE_KEYS, f"rule {rid}", rule_id=rid)
        for key in ("title", "source"):
            if not spec.get(key):
                self.c.add(spec, f"rule {rid} has no '{key}'" + (" (cite '<seed file> § <clause>')" if key == "source" else ""),
                           rule_id=rid)
        if "when" not in spec:
            self.c.add(spec, f"rule {rid} has no 'when' (write `when: true` for a rule that always applies)", rule_id=rid)
        when = self.condition(spec.get("when", True), rid, spec)
        then = self.then(spec, spec.get("then"), outputs, rid)
        frm, to = self._dates(spec, rid)
        if when is None:  # reported; keep the rule so its outputs do not look unset
            when = All(())
        return Rule(rid, str(spec.get("title", "")), str(spec.get("source", "")), stage, index, when, then,
                    self._priority(spec, rid), frm, to, line=spec.line, reads=reads(when),
                    accept=self.accepts(spec, rid), needs=self.needs(spec, rid))

    def needs(self, spec, rule_id) -> tuple:
        """`needs: [price]` — inputs without a default that the rule's outputs are computed from."""
        node = spec.get("needs")
        if node is None:
            return ()
        if not isinstance(node, list) or not node:
            self.c.add(spec, "needs is a list of input names, e.g. needs: [price]", key="needs", rule_id=rule_id)
            return ()
        out = []
        for name in node:
            where = name if isinstance(name, LocStr) else node
            inp = self.case_inputs.get(str(name))
            if inp is None:
                self.c.add(where, f"needs: {name!r} is not an input" + did_you_mean(str(name), self.case_inputs),
                           rule_id=rule_id)
            elif inp.default is not None:
                self.c.add(where, f"needs: input {name!r} has a default, so it is always given", rule_id=rule_id)
            else:
                out.append(inp.name)
        return tuple(out)

    def decision_table(self, spec, stage, outputs, index) -> list[Rule]:
        tid = str(spec["table"])
        _unknown_keys(self.c, spec, TABLE_KEYS, f"decision table {tid}", rule_id=tid)
        hit = str(spec.get("hit", "first"))
        if hit not in HITS:
            self.c.add(spec, f"hit must be one of {', '.join(HITS)}", key="hit", rule_id=tid)
        columns = spec.get("columns") or []
        outs = spec.get("outputs") or []
        rows = spec.get("rows") or []
        if not isinstance(columns, list) or not isinstance(outs, list) or not isinstance(rows, list) or not rows:
            self.c.add(spec, "a decision table has columns: […], outputs: […] and rows: [[…], …]", rule_id=tid)
            return []
        for o in outs:
            if o not in outputs:
                self.c.add(spec, f"unknown output {o!r}" + did_you_mean(o, outputs), key="outputs", rule_id=tid)
        if hit == "collect":
            for o in outs:
                if o in outputs and outputs[o].combine != "collect":
                    self.c.add(spec, f"hit: collect needs output {o!r} to have combine: collect", key="hit", rule_id=tid)
        if any(o not in outputs for o in outs):
            return []
        common = self.condition(spec["when"], tid, spec) if "when" in spec else None
        frm, to = self._dates(spec, tid)
        base = self._priority(spec, tid)
        table_accepts = self.accepts(spec, tid)
        rules = []
        for i, row in enumerate(rows, start=1):
            cells, rid, title, source = row, f"{tid}.{i}", str(spec.get("title", "")), str(spec.get("source", ""))
            if isinstance(row, dict):
                cells = row.get("row")
                rid, title, source = str(row.get("id", rid)), str(row.get("title", title)), str(row.get("source", source))
                accepts = table_accepts + self.accepts(row, rid)
            else:
                accepts = table_accepts
            if not isinstance(cells, list) or len(cells) != len(columns) + len(outs):
                self.c.add(row, f"row {i} needs {len(columns)} condition cells and {len(outs)} outputs", rule_id=rid)
                continue
            tests = [t for t in (self.cell(col, cell, rid) for col, cell in zip(columns, cells)) if t is not None]
            when = All(tuple(([common] if common else []) + tests))
            then = {}
            for o, value in zip(outs, cells[len(columns):]):
                e = self.output_value(row, o, value, outputs[o], rid)
                if e is not None:
                    then[o] = e
            # every row has the table's priority: the table is one unit against other rules, and the
            # hit policy alone picks among its rows (engine/evaluation/evaluate.py)
            rules.append(Rule(rid, title, source, stage, index + i - 1, when, then, base, frm, to,
                              table=tid, table_hit=hit, line=getattr(row, "line", spec.line), reads=reads(when),
                              accept=accepts))
        return rules

    def cell(self, column, cell, rid):
        """A unary test: `<= 300`, `in ['a']`, `-` (any), or a plain value (== value)."""
        if cell is None or (isinstance(cell, str) and cell.strip() in ("-", "")):
            return None
        col = str(column).strip()
        col_text = col if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", col) else f"({col})"
        if isinstance(cell, str) and _CELL_OP.match(cell):
            text = f"{col_text} {cell.strip()}"
        elif isinstance(cell, bool):
            text = f"{col_text} == {'true' if cell else 'false'}"
        elif isinstance(cell, (int, Decimal)):
            text = f"{col_text} == {cell}"
        elif isinstance(cell, date):
            text = f"{col_text} == date('{cell.isoformat()}')"
        elif isinstance(cell, str):
            text = f"{col_text} == {str(cell)!r}"
        else:
            self.c.add(cell if hasattr(cell, "line") else column, f"cannot read the cell {cell!r}", rule_id=rid)
            return None
        loc = LocStr(text)
        loc.line, loc.column = getattr(cell, "line", 0) or getattr(column, "line", 0), getattr(cell, "column", 0)
        e = self.expr(loc, loc, BOOLEAN, rule_id=rid)
        return Atom(e, loc.line) if e is not None else None


def _replace_stage(o: Output, stage: str) -> Output:
    from dataclasses import replace
    return replace(o, stage=stage)


def compile_ruleset(path: Path, calendar: WorkCalendar, text: str | None = None) -> RuleSet:
    """Load and compile one rule-set file; raises RulesError listing every problem."""
    path = Path(path)
    try:
        return _RuleSetCompiler(path, read_rule_file(path) if text is None else text, calendar).compile()
    except Exception as e:  # noqa: BLE001 - any failure, RecursionError and MemoryError too, refuses the file
        raise refusal(path, e) from None
