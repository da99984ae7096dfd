"""`if(cond, a, b)`: the same expression as Python's `a if cond else b`, typed and evaluated by the
same code — a boolean condition, branches of one type, unknown when the condition is unknown."""
import pytest

from engine.errors import ExpressionError
from engine.language.expressions import compile_expression
from engine.messages import localize
from tests.engine.language.test_expressions import FUNCTIONS, SCOPE, compiled, value
from tests.engine.loading.test_compiler import at, problems


@pytest.mark.parametrize("env", [{"b": True, "n": 1}, {"b": False, "n": 1}, {"b": None, "n": 1}, {"b": True},
                                 {"b": False}, {}])
def test_if_gives_what_the_ternary_gives_in_three_valued_logic(env):
    assert value("if(b, n + 1, 0)", **env) == value("n + 1 if b else 0", **env)
    assert value("if(b, n + 1, 0)", b=None, n=1) is None  # an unknown condition: unknown, like the ternary


def test_if_has_the_ternarys_type_names_and_folding():
    e, ternary = compiled("if(x > 1, m, 0)"), compiled("m if x > 1 else 0")
    assert (e.type, e.names) == (ternary.type, ternary.names)
    assert str(e.type) == "money"
    assert compiled("if(true, 1, 2)").constant and compiled("if(true, 1, 2)").fn({}) == 1


def test_if_nests_and_mixes_with_the_ternary():
    text = "if(not given(n), 'none', if(n > 10, 'many', 'few' if n > 1 else 'one'))"
    assert [value(text, n=v) for v in (None, 11, 5, 1)] == ["none", "many", "few", "one"]
    assert value("1 + if(b, 2, 3) * 2", b=False) == 7
    assert value("n if(b) else 0", b=True, n=4) == 4  # `if(` after a value is the ternary's


def test_only_the_chosen_branch_is_computed():
    # the other branch would exceed the engine's number bound if it were computed
    assert value("if(b, 1, n * n * n * n * n * n * n * n * n)", b=True, n=10 ** 5) == 1


@pytest.mark.parametrize("text, message", [
    ("if(n, 1, 2)", "'if' needs a true/false condition, but n is integer"),
    ("if(b, 1, 'x')", "the two values of if() mixes integer and string"),
    ("if(b, 1)", "if() takes 3 arguments: if(condition, value when true, value when false), got 2"),
])
def test_if_is_type_checked_at_load(text, message):
    with pytest.raises(ExpressionError) as e:
        compiled(text)
    assert e.value.message == message
    assert localize(e.value.message, "zh") != message  # and has its Chinese


def test_a_name_like_the_rewritten_if_is_still_refused():
    with pytest.raises(ExpressionError, match="unknown function _i"):
        compile_expression("_i(b, 1, 2)", SCOPE, FUNCTIONS)


RULES = """\
ruleset: demo
version: "1"
inputs:
  n: {type: integer}
outputs:
  o: {type: integer, default: 0}
stages:
  - name: s
    rules:
      - {id: R1, title: t, source: s, when: "true", then: {o: "= if(given(n), n, 'none')"}}
"""


def test_if_in_a_rule_file_is_located_at_its_call(tmp_path):
    (p,) = problems(tmp_path, RULES)
    assert p.message == "the two values of if() mixes integer and string (in: if(given(n), n, 'none'))"
    assert (p.line, p.column) == at(RULES, "if(given")
