"""Rules as a policy owner reads them: conditions in words, and which rules the rule tests cover."""
from __future__ import annotations

import re
import threading
from pathlib import Path

from markupsafe import Markup, escape

from engine.errors import RulesError
from engine.model import All, Atom, Not
from engine.tooling.ruletests import load_tests, run_test
from engine.types import to_json

from . import words, workings

_TOKEN = re.compile(r"""(?P<str>'[^']*'|"[^"]*")|(?P<notin>\bnot\s+in\b)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"""
                    r"""|(?P<op>==|!=|>=|<=)""")
_OPS_ZH = {"==": "＝", "!=": "≠", ">=": "≥", "<=": "≤"}
_WORDS_ZH = {"and": "且", "or": "或", "not": "非", "in": "属于", "today": "决策日", "as_of": "决策时点",
             "true": "是", "True": "是", "false": "否", "False": "否", "null": "空", "given": "已填",
             "if": "若", "else": "否则"}
_OPS_EN = {"==": "=", "!=": "≠", ">=": "≥", "<=": "≤"}


def expression(expr, ruleset, lang: str) -> Markup:
    """An expression with names as their titles, values in words, parameters as their values."""
    text = expr.text
    names = sorted(expr.names)
    derived = {n: e.text for n, e in workings.derived(ruleset).items()}
    out, pos = [], 0
    for m in _TOKEN.finditer(text):
        out.append(escape(text[pos:m.start()]))
        pos = m.end()
        tok = m.group(0)
        if m["str"]:
            value = tok[1:-1]
            shown = next((w for n in names if (w := words.value_words(n, value, lang))), None)
            out.append(Markup('<span class="lit" title="{}">{}</span>').format(value, shown or value))
        elif m["notin"]:
            out.append(escape("不属于" if lang == "zh" else "not in"))
        elif m["op"]:
            out.append(escape((_OPS_ZH if lang == "zh" else _OPS_EN)[tok]))
        elif tok in ruleset.parameters:
            p = ruleset.parameters[tok]
            value = p.value
            shown = words.output_value(tok, p, value, lang) if not isinstance(value, bool) else \
                words.text("bool_true" if value else "bool_false", lang)
            out.append(Markup('<abbr class="param" title="{}：{}">{}</abbr>').format(tok, p.title or tok, shown))
        elif tok in ruleset.inputs or tok in ruleset.outputs:
            spec = ruleset.inputs.get(tok) or ruleset.outputs.get(tok)
            lab = words.label(tok, spec.title, lang)[0] if lang == "zh" else tok
            out.append(Markup('<span class="fact" title="{}">{}</span>').format(tok, lab))
        elif lang == "zh" and tok in _WORDS_ZH and (tok == "given" or not text[m.end():].lstrip().startswith("(")):
            out.append(escape(_WORDS_ZH[tok]))
        elif tok in derived:
            out.append(Markup('<code class="derived" title="{} = {}">{}</code>').format(tok, derived[tok], tok))
        else:
            out.append(Markup('<code>{}</code>').format(tok))
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def condition(cond, ruleset, lang: str) -> Markup:
    """A condition tree as nested lists: all of / any of / not."""
    if isinstance(cond, Atom):
        return expression(cond.expr, ruleset, lang)
    if isinstance(cond, Not):
        return Markup('{} {}').format(words.text("none_of", lang), condition(cond.item, ruleset, lang))
    if not cond.items:
        return escape("总是" if lang == "zh" else "always")
    if isinstance(cond, All) and len(cond.items) == 1:
        return condition(cond.items[0], ruleset, lang)
    head = words.text("all_of" if isinstance(cond, All) else "any_of", lang)
    items = Markup("").join(Markup("<li>{}</li>").format(condition(i, ruleset, lang)) for i in cond.items)
    return Markup('<span class="join">{}</span><ul class="cond">{}</ul>').format(head, items)


def outputs(rule, ruleset, lang: str) -> list[tuple[str, Markup]]:
    """What a rule sets: (output label, value in words or the expression)."""
    rows = []
    for name, expr in rule.then.items():
        spec = ruleset.outputs.get(name)
        lab = words.label(name, spec.title if spec else "", lang)[0]
        if expr.constant:
            try:
                value = expr.fn({})
                shown = escape(words.output_value(name, spec, to_json(value, spec.type) if spec else value, lang))
            except Exception:  # a constant that still needs the environment: show the text
                shown = expression(expr, ruleset, lang)
        else:
            shown = Markup("= ") + expression(expr, ruleset, lang)
        rows.append((lab, shown))
    return rows


_cache: dict = {}
_lock = threading.Lock()


def covered(source, name: str) -> set | None:
    """Ids of the rules of `name` that some rule test fires; None when there are no rule tests.

    Runs the rule tests of that rule set (rules/tests/<name>/*.yaml) once per version of the
    rules and of the test files, on the serving backend."""
    loaded = source.book.rulesets.get(name)
    folder = Path(source.folder)
    files = sorted((folder / "tests").glob("*/*.yaml"))
    if loaded is None or not files:
        return None
    key = (name, loaded.ruleset.digest, tuple((str(f), f.stat().st_mtime_ns) for f in files))
    with _lock:
        if key in _cache:
            return _cache[key]
    try:
        tests = load_tests(folder, only=name)
    except RulesError:
        return None
    if not tests:
        return None
    fired: set = set()
    for t in tests:
        fired |= run_test(loaded, t, source.backend).fired
    with _lock:
        _cache[key] = fired
    return fired
