"""What the compiler records on an expression for the tools (engine.language.recorded, Expr):
the constants it compares with, the functions it calls, its words; and the one walker of the
condition tree (engine.language.conditions.fold) the tools build on."""
from datetime import date
from decimal import Decimal

from engine.language.conditions import atoms, describe, first_failure, fold, names_in
from engine.language.expressions import Symbol, compile_expression
from engine.language.functions import builtin_functions
from engine.calendar import WorkCalendar
from engine.model import All, AnyOf, Atom, Not
from engine.types import DATE, INTEGER, MONEY, STRING, Type
from tests.engine.language.test_language import AS_OF, BACKENDS, fired_ids, load

SCOPE = {
    "amount": Symbol("amount", MONEY, "input"),
    "days": Symbol("days", INTEGER, "input"),
    "bought": Symbol("bought", DATE, "input"),
    "kind": Symbol("kind", Type("enum", values=("a", "b")), "input"),
    "cap": Symbol("cap", MONEY, "parameter", Decimal("500")),
    "kinds": Symbol("kinds", Type("list", item=STRING), "parameter", ["a", "b"]),
}
FUNCTIONS = builtin_functions(WorkCalendar.package_only())


def compiled(text):
    return compile_expression(text, SCOPE, FUNCTIONS)


def test_literals_and_parameter_values_are_recorded_with_their_types():
    e = compiled("amount > 1.50 and amount < cap and days >= 30 and bought >= date('2024-03-01') and kind in kinds")
    values = {(v, t.kind) for v, t in e.literals}
    assert (Decimal("1.50"), "decimal") in values  # as written, not as a binary float
    assert (Decimal("500"), "money") in values  # the parameter's value
    assert (30, "integer") in values
    assert (date(2024, 3, 1), "date") in values
    assert {("a", "string"), ("b", "string")} <= values  # each item of a list parameter
    assert all(t is not None for _, t in e.literals)


def test_true_false_and_null_are_not_constants_worth_trying():
    assert compiled("given(days) == true").literals == ()


def test_the_functions_an_expression_calls_are_recorded():
    assert compiled("date(working_days_after(bought, days)) > bought and given(amount)").functions == \
        {"date", "working_days_after", "given"}
    assert compiled("days > 3").functions == frozenset()


def test_a_comment_is_no_call():
    assert compiled("days > 3  # not working_days_after(bought, 1)").functions == frozenset()


def test_the_words_of_an_expression_are_recorded_with_their_place_in_the_text():
    e = compiled("kind not in ['a'] and given(amount)")
    shown = [(t.kind, e.text[t.start:t.end], t.value, t.call) for t in e.tokens]
    assert shown == [("name", "kind", "kind", False), ("not in", "not in", None, False),
                     ("text", "'a'", "a", False), ("name", "and", "and", False),
                     ("name", "given", "given", True), ("name", "amount", "amount", False)]


def test_only_a_whole_given_test_is_taken_for_one():
    assert compiled("given(amount)").native.op == "given"
    assert compiled("given(amount) and days > 3").native is None


@BACKENDS
def test_a_condition_that_starts_with_given_is_decided_whole(tmp_path, backend):
    """The Rete backend once took any atom whose text began `given(x)` for `given(x)` alone."""
    book = load(tmp_path, """\
        inputs:
          a: {type: integer}
          b: {type: integer}
        outputs:
          hit: {type: boolean, default: false}
        stages:
          - name: s
            rules:
              - id: R
                title: a and b
                source: test § 1
                when: given(a) and b > 3
                then: {hit: true}
        """, backend)
    assert fired_ids(book.decide("demo", {"a": 1, "b": 1}, as_of=AS_OF)) == []
    assert fired_ids(book.decide("demo", {"a": 1, "b": 5}, as_of=AS_OF)) == ["R"]


# --- the walker -----------------------------------------------------------------------------
A, B, C = (Atom(compiled(t)) for t in ("days > 3", "amount > 10", "kind == 'a'"))
TREE = All((A, AnyOf((B, Not(C)))))


def test_fold_visits_every_node_bottom_up():
    shape = fold(TREE, lambda a: a.expr.text, lambda _n, p: ["all", *p], lambda _n, p: ["any", *p],
                 lambda _n, p: ["not", p])
    assert shape == ["all", "days > 3", ["any", "amount > 10", ["not", "kind == 'a'"]]]


def test_what_is_built_on_the_walker():
    assert describe(TREE) == "days > 3 and (amount > 10 or not (kind == 'a'))"
    assert [a.expr.text for a in atoms(TREE)] == ["days > 3", "amount > 10", "kind == 'a'"]
    assert names_in(TREE) == ["amount", "days", "kind"]
    assert describe(All(())) == "true"


def test_first_failure_names_the_first_part_that_does_not_hold():
    env = {"days": 5, "amount": Decimal("1"), "kind": "a"}
    part, value = first_failure(TREE, env)
    assert (describe(part), value) == ("amount > 10 or not (kind == 'a')", False)
    part, value = first_failure(TREE, {"amount": Decimal("1"), "kind": "a"})
    assert (describe(part), value) == ("days > 3", None)  # unknown: days is missing
    assert first_failure(TREE, {"days": 5, "amount": Decimal("20"), "kind": "a"}) == (None, True)
