"""Rules as a policy owner reads them: conditions in words, and which rules the rule tests cover."""
from __future__ import annotations

import threading
from pathlib import Path

from markupsafe import Markup, escape

from engine.errors import RulesError
from engine.language.conditions import KEYWORDS, describe, fold, nodes, pieces
from engine.model import Atom
from engine.tooling.ruletests import load_tests, run_test
from engine.types import to_json

from . import words, workings

_OPS_ZH = {"==": "＝", "!=": "≠", ">=": "≥", "<=": "≤"}
_WORDS_ZH = {"and": "且", "or": "或", "not": "非", "in": "属于", "today": "决策日", "as_of": "决策时点",
             "true": "是", "True": "是", "false": "否", "False": "否", "null": "空", "given": "已填",
             "if": "若", "else": "否则"}
_OPS_EN = {"==": "=", "!=": "≠", ">=": "≥", "<=": "≤"}


def expression(expr, ruleset, lang: str) -> Markup:
    """An expression with names as their titles, values in words, parameters as their values:
    its words as the compiler recorded them (Expr.tokens), the text between them as written."""
    text = expr.text
    names = sorted(expr.names)
    derived = {n: e.text for n, e in workings.derived(ruleset).items()}
    out, pos = [], 0
    for token in expr.tokens:
        out.append(escape(text[pos:token.start]))
        pos = token.end
        tok = token.value
        if token.kind == "text":
            shown = next((w for n in names if (w := words.value_words(ruleset.fact_types.get(n), n, tok, lang))), None)
            out.append(Markup('<span class="lit" title="{}">{}</span>').format(tok, shown or tok))
        elif token.kind == "not in":
            out.append(escape("不属于" if lang == "zh" else "not in"))
        elif token.kind == "op":
            out.append(escape((_OPS_ZH if lang == "zh" else _OPS_EN)[tok]))
        else:
            out.append(_name(tok, token.call, ruleset, derived, lang))
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def _name(tok: str, call: bool, ruleset, derived: dict, lang: str) -> Markup:
    """A name or keyword of an expression in words (`call`: it is followed by a bracket)."""
    if tok in ruleset.parameters:
        p = ruleset.parameters[tok]
        value = p.value
        shown = words.output_value(tok, p, value, lang) if not isinstance(value, bool) else \
            words.text("bool_true" if value else "bool_false", lang)
        return Markup('<abbr class="param" title="{}：{}">{}</abbr>').format(tok, p.title or tok, shown)
    if tok in ruleset.inputs or tok in ruleset.outputs:
        spec = ruleset.inputs.get(tok) or ruleset.outputs.get(tok)
        lab = words.label(tok, spec.title, lang)[0] if lang == "zh" else tok
        return Markup('<span class="fact" title="{}">{}</span>').format(tok, lab)
    if lang == "zh" and tok in _WORDS_ZH and (tok == "given" or not call):
        return escape(_WORDS_ZH[tok])
    if tok in derived:
        return Markup('<code class="derived" title="{} = {}">{}</code>').format(tok, derived[tok], tok)
    return Markup('<code>{}</code>').format(tok)


def condition(cond, ruleset, lang: str) -> Markup:
    """A condition tree as nested lists: all of / any of / not."""
    def joined(kind):
        def join(_node, parts):
            if not parts:
                return escape("总是" if lang == "zh" else "always")
            if kind == "all_of" and len(parts) == 1:
                return parts[0]
            items = Markup("").join(Markup("<li>{}</li>").format(p) for p in parts)
            return Markup('<span class="join">{}</span><ul class="cond">{}</ul>').format(words.text(kind, lang), items)
        return join
    return fold(cond, lambda atom: expression(atom.expr, ruleset, lang), joined("all_of"), joined("any_of"),
                lambda _node, part: Markup('{} {}').format(words.text("none_of", lang), part))



def failed_part(ruleset, rule_id: str, failed: str, lang: str) -> Markup | None:
    """The part of a rule's condition a decision names as the one that failed (`not_fired`'s
    `failed`, the text engine.language.conditions.describe gives it), in words; None when the
    rule has no such part."""
    rule = ruleset.rule(rule_id)
    part = next((p for p in nodes(rule.when) if describe(p) == failed), None) if rule is not None else None
    if part is None:
        return None
    derived = {n: e.text for n, e in workings.derived(ruleset).items()}
    return Markup("").join(expression(p.expr, ruleset, lang) if isinstance(p, Atom) else
                           _name(p, False, ruleset, derived, lang) if p in KEYWORDS else escape(p)
                           for p in pieces(part))

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


_cache: dict = {}  # rule set name → (key, fired): only the latest version's, so edits do not pile up
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
        cached = _cache.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
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
        _cache[name] = (key, fired)
    return fired
