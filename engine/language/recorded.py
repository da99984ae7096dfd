"""What the expression compiler records about an expression for the tools, so that no tool
reads expression text again: the constants it compares with (for `aftersales check`'s
boundary values) and its words (for the rules page). Both are read once, at load, from the
tree and the text the compiler has already parsed.
"""
from __future__ import annotations

import ast
import io
import keyword
import tokenize
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from engine.types import DATE, DECIMAL, INTEGER, STRING


@dataclass(frozen=True)
class Token:
    """A word of an expression's text, as the rules page shows it; `text[start:end]` is the word.

    kind: "text" (a quoted literal; value: what it says), "op" (value: == != >= or <=),
    "not in", or "name" (value: the name or keyword; call: it names a function)."""

    start: int
    end: int
    kind: str
    value: Any = None
    call: bool = False


def literals(tree: ast.Expression, source: str, scope: dict) -> tuple:
    """(value, Type) of every constant the expression holds, in the order `ast.walk` meets them:
    its literals (numbers, texts, `date('…')`) and the value of each parameter it reads (each
    item of a list parameter). True, false and null are not constants worth comparing with."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or v is None:
                continue
            if isinstance(v, float):
                out.append((written_decimal(node, source), DECIMAL))
            else:
                out.append((v, INTEGER if isinstance(v, int) else STRING))
        elif isinstance(node, ast.Name) and (sym := scope.get(node.id)) is not None and sym.kind == "parameter":
            many = sym.type.kind == "list"
            for v in (sym.value if many else [sym.value]):
                if not isinstance(v, bool) and v is not None:
                    out.append((v, sym.type.item if many else sym.type))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "date" \
                and node.args and isinstance(node.args[0], ast.Constant):
            try:
                out.append((date.fromisoformat(str(node.args[0].value)), DATE))
            except ValueError:
                pass
    return tuple(out)


def written_decimal(node: ast.Constant, source: str) -> Decimal:
    """A number with a point as written (`1.50`), not as the binary float Python parsed; raises
    InvalidOperation when the text is no decimal (`1e999`)."""
    return Decimal(written(node, source).replace("_", ""))


def written(node: ast.expr, source: str) -> str:
    return ast.get_source_segment(source, node) or repr(getattr(node, "value", node))


_OPS = ("==", "!=", ">=", "<=")


def tokens(source: str) -> tuple:
    """The words of an expression the rules page turns into words of its own: quoted texts,
    comparisons, `not in` and names. Everything between them is shown as written."""
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    try:
        raw = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
               if t.type in (tokenize.STRING, tokenize.OP, tokenize.NAME)]
    except (tokenize.TokenError, SyntaxError):
        return ()
    out = []
    i = 0
    while i < len(raw):
        t = raw[i]
        start, end = starts[t.start[0] - 1] + t.start[1], starts[t.end[0] - 1] + t.end[1]
        following = raw[i + 1] if i + 1 < len(raw) else None
        if t.type == tokenize.STRING:
            out.append(Token(start, end, "text", ast.literal_eval(t.string)))
        elif t.type == tokenize.OP:
            if t.string in _OPS:
                out.append(Token(start, end, "op", t.string))
        elif t.string == "not" and following is not None and following.string == "in":
            out.append(Token(start, starts[following.end[0] - 1] + following.end[1], "not in"))
            i += 1
        else:
            call = following is not None and following.string == "(" and not keyword.iskeyword(t.string)
            out.append(Token(start, end, "name", t.string, call))
        i += 1
    return tuple(out)
