"""The decision form, generated from a rule set's `inputs`, and the case read back from it.

One widget per input type: enum → select, date → date picker, datetime → date-time
picker (China time), boolean → checkbox (a select of 未填/是/否 when the input has no
default), list → repeatable text inputs, numbers and money → text with a numeric
keyboard (the server checks them, so a wrong entry gets the engine's own message
beside the field instead of being silently dropped by the browser). Fields are
grouped by the input's `group`, in the order the YAML declares them, required first.
An empty field is left out of the case, so the rule set's default applies.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from engine.types import CHINA, parse_datetime, to_json

from . import words

_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")
_MONEY_CHARS = re.compile(r"[¥￥,，\s]")


@dataclass
class Field:
    name: str
    label: str
    hint: str
    widget: str  # select | checkbox | tri | date | datetime | text | number | list
    required: bool
    value: object = ""  # str, bool or a list of str (list widget)
    options: list = field(default_factory=list)  # (value, words)
    inputmode: str = ""
    errors: list = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"f-{self.name}"

    @property
    def describedby(self) -> str:
        ids = ([f"h-{self.name}"] if self.hint else []) + ([f"e-{self.name}"] if self.errors else [])
        return " ".join(ids)


@dataclass
class Group:
    title: str
    fields: list


def _widget(inp) -> tuple[str, str]:
    k = inp.type.kind
    if k == "enum":
        return "select", ""
    if k == "boolean":
        return ("checkbox" if inp.default is not None else "tri"), ""
    if k == "date":
        return "date", ""
    if k == "datetime":
        return "datetime", ""
    if k == "integer":
        return "number", "numeric"
    if k in ("decimal", "money"):
        return "number", "decimal"
    if k == "list":
        return "list", "decimal" if inp.type.item.kind in ("decimal", "money", "integer") else ""
    return "text", ""


def local_datetime(value) -> str:
    """A stored date-time → the value of an <input type=datetime-local>, in China time."""
    try:
        t = parse_datetime(str(value)).astimezone(CHINA)
    except ValueError:
        return str(value)
    return t.strftime("%Y-%m-%dT%H:%M" if not t.second else "%Y-%m-%dT%H:%M:%S")


def _shown(inp, value):
    """A case value (JSON) as the form shows it."""
    k = inp.type.kind
    if k == "boolean":
        return value if isinstance(value, bool) else None
    if k == "list":
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if k == "datetime":
        return local_datetime(value)
    return "" if value is None else str(value)


def build(ruleset, lang: str, values: dict | None = None, errors: dict | None = None,
          only: list | None = None) -> list[Group]:
    """The form's groups. `values`: what to show (a case as JSON, or what was typed);
    inputs not in `values` show their defaults. `only`: these inputs, in this order."""
    values = values or {}
    errors = errors or {}
    names = only or list(ruleset.inputs)
    groups: dict[str, list] = {}
    for name in names:
        inp = ruleset.inputs[name]
        widget, inputmode = _widget(inp)
        lab, hint = words.label(name, inp.title, lang)
        if widget == "select" and "／" in hint:
            hint = ""  # the options say it, in words
        f = Field(name, lab, hint, widget, inp.required, inputmode=inputmode,
                  errors=[words.message(m, lang) for m in errors.get(name, [])])
        if name in values:
            f.value = _shown(inp, values[name])
        elif inp.default is not None:
            f.value = _shown(inp, to_json(inp.default, inp.type))
        else:
            f.value = [] if widget == "list" else None if widget == "tri" else ""
        if widget == "select":
            f.options = ([] if inp.default is not None else
                         [("", words.text("choose" if inp.required else "not_given", lang))]) + \
                [(v, words.value_words(inp.type, name, v, lang) or v) for v in inp.type.values]
        if widget == "list":
            f.value = list(f.value) + [""] * max(1, (inp.min_items or 1) + 1 - len(f.value))
        groups.setdefault(inp.group if not only else "", []).append(f)
    out = []
    for title, fields_ in groups.items():
        if not only:  # a hand-picked list keeps its order
            fields_.sort(key=lambda f: not f.required)  # stable: required first, else as declared
        out.append(Group(title, fields_))
    return out


def _datetime_value(text: str) -> str:
    if _LOCAL.match(text):
        return text + (":00" if len(text) == 16 else "") + "+08:00"
    return text


def read(ruleset, form, only: list | None = None) -> tuple[dict, dict]:
    """The posted form → (the case, what was typed). Empty fields are left out of the case."""
    case, typed = {}, {}
    for name in only or list(ruleset.inputs):
        inp = ruleset.inputs[name]
        k = inp.type.kind
        default = to_json(inp.default, inp.type) if inp.default is not None else None
        if k == "boolean":
            if inp.default is not None:
                value = name in form
            else:
                raw = form.get(name, "")
                value = {"true": True, "false": False}.get(raw)
            typed[name] = value
            if value is not None and value != default:
                case[name] = value
            continue
        if k == "list":
            items = [s.strip() for s in form.getlist(name) if s.strip()]
            typed[name] = items
            if inp.type.item.kind in ("money", "decimal"):
                items = [_MONEY_CHARS.sub("", s) for s in items]
            if items:
                case[name] = items
            continue
        raw = form.get(name, "").strip()
        typed[name] = raw
        if raw == "":
            continue
        value: object = raw
        if k in ("money", "decimal"):
            value = _MONEY_CHARS.sub("", raw)
        elif k == "integer":
            cleaned = _MONEY_CHARS.sub("", raw)
            value = int(cleaned) if re.fullmatch(r"-?\d+", cleaned) else raw
        elif k == "datetime":
            value = _datetime_value(raw)
        if default is not None and str(value) == str(default):
            continue  # the default applies anyway; keep the logged case short
        case[name] = value
    return case, typed


def read_as_of(form) -> str | None:
    raw = form.get("as_of", "").strip()
    if not raw:
        return None
    return _datetime_value(raw)


def now_local() -> str:
    return datetime.now(CHINA).strftime("%Y-%m-%dT%H:%M")
