"""engine/errors.py: problems a policy owner reads stay readable, whatever text they quote."""
from engine.errors import MAX_MESSAGE, Problem
from engine.rulebook import RuleBook
from tests.engine.demo import one_rule, write


def test_a_refused_huge_expression_is_not_echoed_whole(tmp_path):
    # issue 10 item 13: a refused 1.3 MB expression came back whole in GET /v1/rulesets
    expr = " + ".join(["1"] * 150_000)  # 900,000 characters, under the 1 MiB file bound
    rules = write(tmp_path / "rules", one_rule(expr))
    (problem,) = RuleBook.load(rules, backend="python").all_problems()
    assert "longer than 2000 characters" in problem.message
    assert len(problem.message) < MAX_MESSAGE + 40 and "more characters)" in problem.message
    assert (problem.file, problem.line, problem.rule_id) == (str(rules / "demo.yaml"), 14, "R")


def test_a_short_message_is_kept_as_it_is():
    assert Problem("f.yaml", 1, 1, "unknown fact 'x'").message == "unknown fact 'x'"
