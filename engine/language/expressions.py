"""The expression language: parsed with Python's `ast` under a whitelist, type-checked
at load, compiled to closures. Never `eval`.

`compile_expression(text, scope)` returns an `Expr`: a function of the evaluation
environment (a dict of fact name → value), the static type, the names it reads,
and — for the simple comparisons the Rete backend can match natively — a `Native`
description of the test. Null (a missing fact) propagates: any operation on null
gives null, and a condition that comes out null does not hold.

Every bound of the language is below, in one place: on the text before it is parsed, on the
tree before it is walked (so whether an expression loads never depends on the worker's stack),
and on the values an expression computes while a case is decided (so a rule cannot make a
decision cost 100 MB or seconds of CPU: it fails with EvaluationLimit instead).
"""
from __future__ import annotations

import ast
import io
import keyword
import operator
import re
import threading
import tokenize
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any, Callable

from engine.errors import EvaluationLimit, ExpressionError, did_you_mean
from engine.language.functions import Function, unify, warn
from engine.language.recorded import literals, tokens, written, written_decimal
from engine.types import ANY, BOOLEAN, DATE, DECIMAL, INTEGER, MAX_TEXT, MONEY, NULL, STRING, Type

# -- bounds (engine guards, not policy figures; the shipped rules are far below each) -----------
MAX_LENGTH = 2000
"""Characters of one expression (the rules' longest has 247): a longer one belongs in derived facts."""
MAX_OPERATORS = 400
"""Operators, brackets, dots, colons and keywords (not, and, or, if, in, is, …) in one expression,
counted in the text before it is parsed (the rules' most has 17). Every level of nesting needs
one, so this bounds how deep Python's parser recurses, whatever the text: about two levels per
mark, well inside the recursion limit."""
MAX_BRACKETS = 20
"""Brackets open at once, counted in the text before it is parsed (the rules' most is 2): Python's
parser takes over 1 KB of C stack per bracket, so 199 of them (its own limit) crash a thread with
a 256 KiB stack. Within both bounds, the worst text parses in a thread with a 128 KiB stack."""
MAX_DEPTH = 50
"""Levels of the parsed expression (`a + b * c` is 3; the rules' deepest is 6), checked before the
tree is walked: compiling recurses up to three frames per level and deciding two, so an expression
always compiles and evaluates the same way with room to spare on a web worker's stack."""
MAX_TEXT_LENGTH = 10 * MAX_TEXT
"""Characters of a text an expression computes (by +): ten text inputs at their bound. Checked at
each join, so a chain of derived facts that doubles a text stops here instead of at 100 MB."""
MAX_NUMBER_DIGITS = 26
"""Digits of a number an expression computes (+, -, *, /, sum()): below 10**26, money still fits
Decimal's 28 digits with its fen, and no count of days or items comes near. Checked at each
operation, so repeated squaring stops at the first step past it instead of running for seconds.
(The digits after the point need no check: Decimal rounds every result to 28 significant digits.
Lists need none: no operator builds a list while a case is decided.)"""
_NUMBER_BOUND = 10 ** MAX_NUMBER_DIGITS
_DECIMAL_BOUND = Decimal(_NUMBER_BOUND)  # the same bound: a Decimal compares faster with a Decimal
_NESTING_MARKS = "([{+-*/%<>=!~&|^@.:"
_NESTING_WORDS = re.compile(r"\b(?:not|and|or|if|else|in|is|lambda|for|await|yield)\b")
_BRACKET = re.compile(r"[(\[{)\]}]")


@dataclass(frozen=True)
class Symbol:
    """A name an expression may read."""

    name: str
    type: Type
    kind: str  # input | parameter | table | derived | output | builtin
    value: Any = None  # parameters: the constant; tables: {key: value}
    column_types: dict | None = None  # tables: column → Type (None: the one column of a key → value table)


@dataclass(frozen=True)
class Native:
    """A test the Rete backend can match without Python: `name op operand`.

    operand is ("lit", value) or ("name", other_name); op is one of < <= > >= == !=,
    "in" / "not in" (operand: ("lits", values)), "is" (a boolean fact is true/false), or
    "given" (`given(name)`, operand (): the fact is not null — a test the backend computes
    in Python without the function-call machinery).
    """

    name: str
    type: Type
    op: str
    operand: tuple


@dataclass
class Expr:
    text: str
    fn: Callable[[dict], Any]
    type: Type
    names: frozenset = field(default_factory=frozenset)
    native: Native | None = None
    constant: bool = False
    # Recorded at load for the tools, so none of them reads the text again (engine.language.recorded):
    literals: tuple = ()  # (value, Type) of its literals and of the parameter values it reads
    functions: frozenset = field(default_factory=frozenset)  # the functions it calls (lookup, date too)
    tokens: tuple = ()  # Token: its words, for the rules page


_CMP = {ast.Lt: ("<", operator.lt), ast.LtE: ("<=", operator.le), ast.Gt: (">", operator.gt),
        ast.GtE: (">=", operator.ge), ast.Eq: ("==", operator.eq), ast.NotEq: ("!=", operator.ne)}
_CONSTANT_NAMES = {"true": (True, BOOLEAN), "True": (True, BOOLEAN), "false": (False, BOOLEAN),
                   "False": (False, BOOLEAN), "null": (None, NULL), "None": (None, NULL)}


def _nullsafe2(op):
    def fn(a, b):
        return None if a is None or b is None else op(a, b)
    return fn


def _div(a, b):
    if a is None or b is None or b == 0:
        return None
    return Decimal(a) / Decimal(b)


def _floordiv(a, b):
    return None if a is None or b is None or b == 0 else a // b


def _mod(a, b):
    return None if a is None or b is None or b == 0 else a % b


def _sub(a, b):
    if a is None or b is None:
        return None
    r = a - b
    return r.days if isinstance(r, timedelta) else r


def _add(a, b):
    if a is None or b is None:
        return None
    if isinstance(a, date) and isinstance(b, int):
        return a + timedelta(days=b)
    if isinstance(b, date) and isinstance(a, int):
        return b + timedelta(days=a)
    return a + b


def _date_sub(a, b):
    if a is None or b is None:
        return None
    return a - timedelta(days=b) if isinstance(b, int) else (a - b).days


def _within(value) -> bool:
    """Whether a computed text or number is inside its bound (other values cannot grow)."""
    cls = value.__class__
    if cls is str:
        return len(value) <= MAX_TEXT_LENGTH
    if cls is int:
        return -_NUMBER_BOUND < value < _NUMBER_BOUND
    if cls is Decimal:
        return -_DECIMAL_BOUND < value < _DECIMAL_BOUND
    return True


def _bounded(fn, text: str):
    def bounded(env):
        value = fn(env)
        if value is None or _within(value):
            return value
        raise _too_big(text, value)
    return bounded


def _not_called(name: str, error: Exception) -> None:
    warn(f"{name}() could not be computed ({error}); treated as unknown")
    return None


def _not_computed(text: str, error: Exception) -> None:
    warn(f"{text} could not be computed ({type(error).__name__}); treated as unknown")
    return None


def _too_big(text: str, value) -> EvaluationLimit:
    shown = text if len(text) <= 80 else text[:79] + "…"
    if isinstance(value, str):
        size = f"a text of {len(value):,} characters; the engine computes texts of at most {MAX_TEXT_LENGTH:,}"
    else:
        size = (f"a number of {len(str(abs(int(value))))} digits; the engine computes numbers below "
                f"10^{MAX_NUMBER_DIGITS}")
    return EvaluationLimit(f"`{shown}` makes {size}")


class _Compiler:
    def __init__(self, text: str, scope: dict[str, Symbol], functions: dict[str, Function],
                 if_calls: frozenset = frozenset()):
        self.text = text
        self.if_calls = if_calls  # (line, column) of each `if(` the text calls (see _calls_of_if)
        self.scope = scope
        self.functions = functions
        self.names: set[str] = set()
        self.called: set[str] = set()

    def fail(self, node, message):
        raise ExpressionError(message, getattr(node, "col_offset", 0))

    # Each visit returns (fn, type, constant_value_or_marker)
    def visit(self, node) -> tuple[Callable, Type, bool]:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            self.fail(node, f"{_describe(node)} is not allowed in a rule expression")
        return method(node)

    def visit_Expression(self, node):
        return self.visit(node.body)

    def visit_Constant(self, node):
        v = node.value
        if isinstance(v, bool):
            return _const(v), BOOLEAN, True
        if isinstance(v, int):
            if not _within(v):
                self.fail(node, f"a number of more than {MAX_NUMBER_DIGITS} digits is not allowed")
            return _const(v), INTEGER, True
        if isinstance(v, float):
            source = written(node, self.text)
            try:
                d = written_decimal(node, self.text)
            except InvalidOperation:
                self.fail(node, f"{source} is not a number")
            if not _within(d):
                self.fail(node, f"{source} is not below 10^{MAX_NUMBER_DIGITS}")
            return _const(d), DECIMAL, True
        if isinstance(v, str):
            return _const(v), STRING, True
        if v is None:
            return _const(None), NULL, True
        self.fail(node, f"the literal {v!r} is not allowed")

    def visit_Name(self, node):
        if node.id in _CONSTANT_NAMES:
            value, t = _CONSTANT_NAMES[node.id]
            return _const(value), t, True
        sym = self.scope.get(node.id)
        if sym is None:
            if node.id.startswith("_"):
                self.fail(node, f"names starting with '_' are not allowed: {node.id}")
            self.fail(node, f"unknown fact {node.id!r}" + did_you_mean(node.id, self.scope))
        if sym.kind == "table":
            self.fail(node, f"{node.id} is a table: use lookup({node.id}, key)")
        self.names.add(node.id)
        name = node.id
        return (lambda env: env.get(name)), sym.type, False

    def visit_List(self, node):
        parts = [self.visit(e) for e in node.elts]
        item = unify([t for _, t, _ in parts], "the list") if parts else ANY
        fns = [f for f, _, _ in parts]
        return (lambda env: [f(env) for f in fns]), Type("list", item=item), all(c for _, _, c in parts)

    visit_Tuple = visit_List

    def visit_UnaryOp(self, node):
        fn, t, c = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            self._want_bool(node.operand, t, "not")
            return (lambda env: None if (v := fn(env)) is None else not v), BOOLEAN, c
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            if not t.numeric:
                self.fail(node, f"'-' needs a number, not {t}")
            sign = -1 if isinstance(node.op, ast.USub) else 1
            return (lambda env: None if (v := fn(env)) is None else sign * v), t, c
        self.fail(node, "this operator is not allowed")

    def visit_BoolOp(self, node):
        parts = [self.visit(v) for v in node.values]
        for v, (_, t, _) in zip(node.values, parts):
            self._want_bool(v, t, "and" if isinstance(node.op, ast.And) else "or")
        fns = [f for f, _, _ in parts]
        constant = all(c for _, _, c in parts)
        return (kleene_and(fns) if isinstance(node.op, ast.And) else kleene_or(fns)), BOOLEAN, constant

    def visit_BinOp(self, node):
        lf, lt, lc = self.visit(node.left)
        rf, rt, rc = self.visit(node.right)
        op = node.op
        result = self._arith_type(node, op, lt, rt)
        if isinstance(op, ast.Add):
            impl = _add
        elif isinstance(op, ast.Sub):
            impl = _date_sub if lt.kind == "date" else _sub
        elif isinstance(op, ast.Mult):
            impl = _nullsafe2(operator.mul)
        elif isinstance(op, ast.Div):
            impl = _div
        elif isinstance(op, ast.FloorDiv):
            impl = _floordiv
        elif isinstance(op, ast.Mod):
            impl = _mod
        else:
            self.fail(node, f"the operator {_describe(op)} is not allowed")
        text = ast.get_source_segment(self.text, node) or "an expression"
        if result.numeric and lt.kind != "date":  # the bound compared inline: no call on the hot path
            high = _NUMBER_BOUND if result.kind == "integer" else _DECIMAL_BOUND
            low = -high

            def fn(env):
                try:
                    value = impl(lf(env), rf(env))
                except (ArithmeticError, ValueError) as e:  # a decimal overflow
                    return _not_computed(text, e)
                if value is None or low < value < high:
                    return value
                raise _too_big(text, value)
        else:  # dates, texts, values whose type is known only when the case is decided

            def fn(env):
                try:
                    value = impl(lf(env), rf(env))
                except (ArithmeticError, ValueError) as e:  # a date past year 9999
                    return _not_computed(text, e)
                if value is None or _within(value):
                    return value
                raise _too_big(text, value)
        return fn, result, lc and rc

    def _arith_type(self, node, op, lt: Type, rt: Type) -> Type:
        if NULL in (lt, rt) or ANY in (lt, rt):
            return ANY
        sym = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%"}.get(type(op), "?")
        if isinstance(op, ast.Add) and lt.kind == "date" and rt.kind == "integer":
            return DATE
        if isinstance(op, ast.Add) and lt.kind == "integer" and rt.kind == "date":
            return DATE
        if isinstance(op, ast.Sub) and lt.kind == "date" and rt.kind in ("date", "integer"):
            return INTEGER if rt.kind == "date" else DATE
        if isinstance(op, ast.Add) and lt.kind in ("string", "enum") and rt.kind in ("string", "enum"):
            return STRING
        if not (lt.numeric and rt.numeric):
            hint = " (use add_hours / hours_between for date-times)" if "datetime" in (lt.kind, rt.kind) else ""
            self.fail(node, f"cannot compute {lt} {sym} {rt}{hint}")
        kinds = {lt.kind, rt.kind}
        if isinstance(op, (ast.FloorDiv, ast.Mod)):
            if kinds != {"integer"}:
                self.fail(node, f"'{sym}' works on whole numbers only, not {lt} and {rt}")
            return INTEGER
        if isinstance(op, ast.Mult):
            if lt.kind == "money" and rt.kind == "money":
                self.fail(node, "cannot multiply money by money")
            return MONEY if "money" in kinds else DECIMAL if "decimal" in kinds else INTEGER
        if isinstance(op, ast.Div):
            if rt.kind == "money":
                if lt.kind != "money":
                    self.fail(node, f"cannot divide {lt} by money")
                return DECIMAL
            return MONEY if lt.kind == "money" else DECIMAL
        if ("money" in kinds) and kinds - {"money", "integer"} and isinstance(op, (ast.Add, ast.Sub)):
            return MONEY  # money ± decimal stays money
        return MONEY if "money" in kinds else DECIMAL if "decimal" in kinds else INTEGER

    def visit_Compare(self, node):
        operands = [node.left, *node.comparators]
        compiled = [self.visit(o) for o in operands]
        tests = []
        for i, op in enumerate(node.ops):
            (lf, lt, _), (rf, rt, _) = compiled[i], compiled[i + 1]
            tests.append(self._compare(node, op, operands[i], lt, lf, operands[i + 1], rt, rf))
        fn = tests[0] if len(tests) == 1 else kleene_and(tests)
        native = _native(node, self.scope) if len(tests) == 1 else None
        if native is not None:  # `fact op literal` inside a larger expression: without the operands' closures
            fn = native_test(native)
        return fn, BOOLEAN, all(c for _, _, c in compiled)

    def _compare(self, node, op, lnode, lt, lf, rnode, rt, rf):
        if isinstance(op, (ast.In, ast.NotIn)):
            if rt.kind != "list":
                self.fail(rnode, f"'in' needs a list on its right, not {rt}")
            self._comparable(node, lt, rt.item, "in")
            self._check_enum_literals(lnode, lt, rnode)
            negate = isinstance(op, ast.NotIn)

            def test(env):
                a, b = lf(env), rf(env)
                if a is None or b is None:
                    return None
                return (a in b) != negate
            return test
        if type(op) not in _CMP:
            self.fail(node, f"the comparison {_describe(op)} is not allowed (use == or !=)")
        symbol, impl = _CMP[type(op)]
        self._comparable(node, lt, rt, symbol)
        if symbol not in ("==", "!=") and lt.kind in ("boolean",):
            self.fail(node, f"'{symbol}' does not order true/false")
        self._check_enum_literals(lnode, lt, rnode)
        self._check_enum_literals(rnode, rt, lnode)

        def test(env):
            a, b = lf(env), rf(env)
            return None if a is None or b is None else impl(a, b)
        return test

    def _comparable(self, node, lt: Type, rt: Type, symbol):
        if "null" in (lt.kind, rt.kind):
            self.fail(node, "compare with null using given(x)")
        if "any" in (lt.kind, rt.kind):
            return
        if lt.numeric and rt.numeric:
            return
        groups = [{"string", "enum"}, {"date"}, {"datetime"}, {"boolean"}]
        if any(lt.kind in g and rt.kind in g for g in groups):
            return
        hint = " (use date(t) to compare a date-time with a date)" if {lt.kind, rt.kind} == {"date", "datetime"} else ""
        self.fail(node, f"cannot compare {lt} with {rt} using '{symbol}'{hint}")

    def _check_enum_literals(self, enum_node, enum_type: Type, other):
        """`fault_cause == 'misuse'`: the literal must be one of the enum's values."""
        if enum_type.kind != "enum":
            return
        literals = []
        if isinstance(other, ast.Constant) and isinstance(other.value, str):
            literals = [other]
        elif isinstance(other, (ast.List, ast.Tuple)):
            literals = [e for e in other.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        for lit in literals:
            if lit.value not in enum_type.values:
                self.fail(lit, f"{lit.value!r} is not a value of {_name_of(enum_node)} "
                               f"(allowed: {', '.join(enum_type.values)})")

    def visit_IfExp(self, node, branches: str = "the two branches of 'if … else'"):
        tf, tt, tc = self.visit(node.test)
        self._want_bool(node.test, tt, "if")
        bf, bt, bc = self.visit(node.body)
        of, ot, oc = self.visit(node.orelse)
        try:
            result = unify([bt, ot], branches)
        except ExpressionError as e:
            self.fail(node, e.message)

        def fn(env):
            t = tf(env)
            if t is None:
                return None
            return bf(env) if t else of(env)
        return fn, result, tc and bc and oc

    def visit_Call(self, node):
        if not isinstance(node.func, ast.Name):
            self.fail(node, "only the listed functions may be called (no methods or attributes)")
        if node.keywords:
            self.fail(node, "functions take positional arguments only")
        name = node.func.id
        if name == IF_NAME and (node.lineno, node.col_offset) in self.if_calls:
            return self._if(node)
        self.called.add(name)
        if name == "lookup":
            return self._lookup(node)
        if name == "date" and len(node.args) == 1 and isinstance(node.args[0], ast.Constant):
            try:
                d = date.fromisoformat(str(node.args[0].value))
            except ValueError:
                self.fail(node.args[0], f"{node.args[0].value!r} is not a date YYYY-MM-DD")
            return _const(d), DATE, True
        fn = self.functions.get(name)
        if fn is None:
            self.fail(node, f"unknown function {name}()" + did_you_mean(name, self.functions))
        args = [self.visit(a) for a in node.args]
        try:
            result = fn.check([t for _, t, _ in args])
        except ExpressionError as e:
            self.fail(node, e.message)
        fns = [f for f, _, _ in args]
        impl, null_safe = fn.impl, fn.null_safe
        if len(fns) == 1 and not null_safe:  # the commonest calls, without building a list of arguments
            (first,) = fns

            def call(env):
                if (a := first(env)) is None:
                    return None
                try:
                    return impl(a)
                except (ArithmeticError, ValueError, OverflowError) as e:
                    return _not_called(name, e)
        elif len(fns) == 2 and not null_safe:
            first, second = fns

            def call(env):
                a, b = first(env), second(env)  # both, as a warning or a bound may come from either
                if a is None or b is None:
                    return None
                try:
                    return impl(a, b)
                except (ArithmeticError, ValueError, OverflowError) as e:
                    return _not_called(name, e)
        else:

            def call(env):
                values = [f(env) for f in fns]
                if not null_safe and None in values:  # (values are never objects equal to None)
                    return None
                try:
                    return impl(*values)
                except (ArithmeticError, ValueError, OverflowError) as e:
                    return _not_called(name, e)
        constant = all(c for _, _, c in args) and not fn.warns
        if fn.grows:  # its result can be larger than its arguments: checked as an operator's is
            return _bounded(call, ast.get_source_segment(self.text, node) or f"{name}()"), result, constant
        return call, result, constant

    def _if(self, node):
        """`if(cond, a, b)`: the ternary `a if cond else b`, compiled by the same code."""
        if len(node.args) != 3:
            self.fail(node, "if() takes 3 arguments: if(condition, value when true, value when false), "
                            f"got {len(node.args)}")
        cond, when_true, when_false = node.args
        ternary = ast.copy_location(ast.IfExp(test=cond, body=when_true, orelse=when_false), node)
        return self.visit_IfExp(ternary, "the two values of if()")

    def _lookup(self, node):
        if len(node.args) not in (2, 3):
            self.fail(node, "lookup() takes a table, a key and optionally a column: lookup(table, key, 'column')")
        tnode = node.args[0]
        sym = self.scope.get(tnode.id) if isinstance(tnode, ast.Name) else None
        if sym is None or sym.kind != "table":
            self.fail(tnode, "lookup()'s first argument must be the name of a table")
        self.names.add(tnode.id)
        rows: dict = sym.value
        kf, kt, _ = self.visit(node.args[1])
        if kt.kind in ("list", "table"):
            self.fail(node.args[1], f"lookup()'s key must be a single value, not {kt}")
        column = None
        if len(node.args) == 3:
            cnode = node.args[2]
            if not (isinstance(cnode, ast.Constant) and isinstance(cnode.value, str)):
                self.fail(cnode, "lookup()'s column must be a quoted column name")
            column = cnode.value
            columns = sym.type.values  # column names
            if column not in columns:
                self.fail(cnode, f"table {tnode.id} has no column {column!r} (columns: {', '.join(columns)})")
            result = sym.column_types[column]
            rows = {k: v.get(column) for k, v in sym.value.items()}
        else:
            if sym.type.values:
                self.fail(node, f"table {tnode.id} has columns: name one, lookup({tnode.id}, key, 'column')")
            result = sym.column_types[None]
            rows = sym.value
        return (lambda env: None if (k := kf(env)) is None else rows.get(k)), result, False

    def _want_bool(self, node, t: Type, what):
        if t.kind not in ("boolean", "null", "any"):
            self.fail(node, f"'{what}' needs a true/false condition, but {_name_of(node)} is {t}")


def _const(value):
    return lambda env: value


def kleene_and(fns):
    """Three-valued `and`: false if any part is false, unknown (None) if any is unknown."""
    def fn(env):
        unknown = False
        for f in fns:
            v = f(env)
            if v is False:
                return False
            if v is None:
                unknown = True
        return None if unknown else True
    return fn


def kleene_or(fns):
    """Three-valued `or`: true if any part is true, unknown (None) if any is unknown."""
    def fn(env):
        unknown = False
        for f in fns:
            v = f(env)
            if v is True:
                return True
            if v is None:
                unknown = True
        return None if unknown else False
    return fn


def _describe(node) -> str:
    names = {"Attribute": "attribute access (a.b)", "Subscript": "indexing (a[b])", "Lambda": "lambda",
             "Pow": "'**'", "ListComp": "a comprehension", "GeneratorExp": "a generator", "Dict": "a mapping",
             "Set": "a set", "Starred": "'*'", "NamedExpr": "':='", "JoinedStr": "f-strings",
             "Is": "'is'", "IsNot": "'is not'", "Await": "await", "BitAnd": "'&'", "BitOr": "'|'",
             "BitXor": "'^'", "LShift": "'<<'", "RShift": "'>>'", "MatMult": "'@'", "Invert": "'~'"}
    return names.get(type(node).__name__, type(node).__name__)


def _name_of(node) -> str:
    return node.id if isinstance(node, ast.Name) else "the expression"


def _native(tree, scope: dict[str, Symbol]) -> Native | None:
    """Describe `name op literal|name`, `name in [literals]`, `name`, `not name` for the Rete backend."""
    node = tree.body if isinstance(tree, ast.Expression) else tree

    def literal(n):
        if isinstance(n, ast.Constant) and not isinstance(n.value, float):
            return True, n.value
        if isinstance(n, ast.Name) and n.id in _CONSTANT_NAMES:
            return True, _CONSTANT_NAMES[n.id][0]
        if isinstance(n, ast.Name) and n.id in scope and scope[n.id].kind == "parameter":
            return True, scope[n.id].value
        return False, None

    def fact(n):
        if isinstance(n, ast.Name) and n.id in scope and scope[n.id].kind in ("input", "derived", "output"):
            return scope[n.id]
        return None

    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "given" \
            and len(node.args) == 1 and isinstance(node.args[0], ast.Name) \
            and (s := scope.get(node.args[0].id)) is not None and s.kind != "table":
        return Native(s.name, s.type, "given", ())
    if (s := fact(node)) and s.type.kind == "boolean":
        return Native(s.name, s.type, "is", ("lit", True))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and (s := fact(node.operand)) \
            and s.type.kind == "boolean":
        return Native(s.name, s.type, "is", ("lit", False))
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return None
    left, op, right = node.left, node.ops[0], node.comparators[0]
    s = fact(left)
    if s is None:
        return None
    if isinstance(op, (ast.In, ast.NotIn)):
        if not isinstance(right, (ast.List, ast.Tuple)):
            return None
        values = [literal(e) for e in right.elts]
        if not all(ok for ok, _ in values):
            return None
        return Native(s.name, s.type, "in" if isinstance(op, ast.In) else "not in", ("lits", [v for _, v in values]))
    symbol = _CMP.get(type(op), (None,))[0]
    if symbol is None:
        return None
    ok, value = literal(right)
    if ok:
        return Native(s.name, s.type, symbol, ("lit", value))
    if (r := fact(right)) is not None:
        return Native(s.name, s.type, symbol, ("name", r.name, r.type))
    return None


def compile_expression(text: str, scope: dict[str, Symbol], functions: dict[str, Function],
                       expect: Type | None = None) -> Expr:
    """Parse, check and compile one expression. Raises ExpressionError with a column offset.

    The verdict never depends on the caller's stack: the text is bounded before it is parsed, the
    tree before it is walked, and when the caller has used most of Python's recursion depth, the
    same work runs again from the start of a fresh thread's stack."""
    source = str(text).strip()
    if not source:
        raise ExpressionError("empty expression")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters: split it into derived facts")
    _check_brackets(source)
    marks = sum(map(source.count, _NESTING_MARKS)) + len(_NESTING_WORDS.findall(source))
    if marks > MAX_OPERATORS:
        raise ExpressionError(f"expression with {marks} operators, brackets and keywords (at most "
                              f"{MAX_OPERATORS}): split it into derived facts")
    # each level of the tree needs a mark, but an f-string's two levels and a bare tuple share one:
    # with few marks, the tree cannot be too deep
    walk = 2 * marks + 2 > MAX_DEPTH
    try:
        return _compile(source, scope, functions, expect, walk)
    except RecursionError:
        return _on_fresh_stack(_compile, source, scope, functions, expect, walk)


IF_NAME = "_i"
"""What `if(` is parsed as: Python reads `if` only as a keyword, so each `if` that opens a call is
parsed as this name, as long as `if` (a user cannot write it: names starting with '_' are refused),
and only the calls at the places rewritten are `if(…)`."""
_VALUE_END = {")", "]", "}"}


def _calls_of_if(source: str) -> tuple[str, frozenset]:
    """`source` with each `if(` that starts an operand renamed IF_NAME, and where they are. An `if`
    after a value (`a if (c) else b`) is the ternary's and stays."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):  # the parser reports it
        return source, frozenset()
    lines = source.splitlines(keepends=True)
    found = []
    previous = None
    for i, t in enumerate(toks):
        if t.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
            continue
        after_value = previous is not None and (
            previous.type in (tokenize.NUMBER, tokenize.STRING) or previous.string in _VALUE_END
            or (previous.type == tokenize.NAME and not keyword.iskeyword(previous.string)))
        following = toks[i + 1] if i + 1 < len(toks) else None
        if t.type == tokenize.NAME and t.string == "if" and not after_value \
                and following is not None and following.string == "(":
            found.append(t.start)
        previous = t
    for row, col in found:
        line = lines[row - 1]
        lines[row - 1] = line[:col] + IF_NAME + line[col + 2:]
    # ast's column offsets count UTF-8 bytes
    return "".join(lines), frozenset((row, len(lines[row - 1][:col].encode())) for row, col in found)


def _compile(source: str, scope: dict[str, Symbol], functions: dict[str, Function], expect: Type | None,
             walk: bool) -> Expr:
    parsed, if_calls = _calls_of_if(source) if "if" in source else (source, frozenset())
    try:
        tree = ast.parse(parsed, mode="eval")
    except SyntaxError as e:
        raise ExpressionError(f"syntax error: {e.msg}", max((e.offset or 1) - 1, 0)) from None
    except ValueError as e:  # a NUL character
        raise ExpressionError(f"cannot be read: {e}") from None
    deep = _deeper_than(tree, MAX_DEPTH) if walk else None
    if deep is not None:
        raise ExpressionError(f"expression nested more than {MAX_DEPTH} levels deep: split it into derived facts",
                              deep.col_offset)
    compiler = _Compiler(source, scope, functions, if_calls)
    fn, t, constant = compiler.visit(tree)
    if expect is not None and expect.kind != "any":
        _check_expected(t, expect)
    if constant:  # fold: compute once at load
        try:
            value = fn({})
        except (ArithmeticError, DivisionByZero, InvalidOperation) as e:
            raise ExpressionError(f"cannot be computed: {e}") from None
        except EvaluationLimit as e:
            raise ExpressionError(e.message) from None
        fn = _const(value)
    native = _native(tree, scope)
    if native is not None:
        fn = native_test(native)
    return Expr(source, fn, t, frozenset(compiler.names), native, constant,
                literals(tree, source, scope), frozenset(compiler.called), tokens(source))


_NATIVE_OPS = dict(_CMP.values())  # "<" → operator.lt, …


def native_test(n: Native) -> Callable[[dict], Any]:
    """The closure of a simple test (`fact op literal`, `fact op fact`, `fact in [...]`, a boolean
    fact, `given(fact)`): the same three-valued result as the general closures, without their
    layers. Both backends use it — the Python one for every condition, the Rete one for the tests
    it computes before asserting (money and decimals) — so there is one comparison, here."""
    name = n.name
    if n.op == "given":
        return lambda env: env.get(name) is not None
    if n.op == "is":
        if n.operand[1]:
            return lambda env: env.get(name)
        return lambda env: None if (v := env.get(name)) is None else not v
    if n.op in ("in", "not in"):
        values, negate = n.operand[1], n.op == "not in"
        return lambda env: None if (v := env.get(name)) is None else (v in values) != negate
    impl = _NATIVE_OPS[n.op]
    if n.operand[0] == "lit":
        literal = n.operand[1]
        return lambda env: None if (v := env.get(name)) is None else impl(v, literal)
    other = n.operand[1]
    return lambda env: None if (v := env.get(name)) is None or (w := env.get(other)) is None else impl(v, w)


def _check_brackets(source: str):
    depth = 0
    for m in _BRACKET.finditer(source):  # never below 0: closers in a text literal hide no nesting
        depth = depth + 1 if m.group() in "([{" else max(depth - 1, 0)
        if depth > MAX_BRACKETS:
            raise ExpressionError(f"brackets nested more than {MAX_BRACKETS} deep: split it into derived facts",
                                  m.start())


def _deeper_than(tree, limit: int):
    """The first expression node more than `limit` levels deep, found without recursion; or None."""
    stack = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return node
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + 1 if isinstance(child, ast.expr) else depth))
    return None


def _on_fresh_stack(fn, *args):
    """fn(*args) on a new thread, which starts with Python's whole recursion depth to itself."""
    result = {}

    def run():
        try:
            result["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - raised again in the caller's thread
            result["error"] = e
    worker = threading.Thread(target=run, name="compile-expression")
    worker.start()
    worker.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def _check_expected(t: Type, expect: Type):
    if t.kind in ("null", "any"):
        return
    if expect.numeric and t.numeric:
        if expect.kind == "integer" and t.kind != "integer":
            raise ExpressionError(f"gives {t}, but a whole number is expected")
        return
    if expect.kind in ("string", "enum") and t.kind in ("string", "enum"):
        return
    if expect.kind == "list" and t.kind == "list":
        _check_expected(t.item, expect.item)
        return
    if expect.kind != t.kind:
        raise ExpressionError(f"gives {t}, but {expect} is expected")
