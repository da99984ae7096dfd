"""engine/errors.py: problems a policy owner reads stay readable, whatever text they quote."""
import textwrap

from engine.errors import MAX_MESSAGE, Problem
from engine.rulebook import RuleBook


def test_a_refused_huge_expression_is_not_echoed_whole(tmp_path):
    # issue 10 item 13: a refused 1.3 MB expression came back whole in GET /v1/rulesets
    rules = tmp_path / "rules"
    rules.mkdir()
    expr = " + ".join(["1"] * 150_000)  # 900,000 characters, under the 1 MiB file bound
    (rules / "demo.yaml").write_text(textwrap.dedent("""\
        ruleset: demo
        version: "1"
        outputs:
          v: {type: decimal}
        stages:
          - name: s
            rules:
              - id: R
                title: t
                source: test § 1
                when: true
                then:
                  v: "= EXPR"
        """).replace("EXPR", expr), encoding="utf-8")
    (problem,) = RuleBook.load(rules, backend="python").all_problems()
    assert "longer than 2000 characters" in problem.message
    assert len(problem.message) < MAX_MESSAGE + 40 and "more characters)" in problem.message
    assert (problem.file, problem.line, problem.rule_id) == (str(rules / "demo.yaml"), 13, "R")


def test_a_short_message_is_kept_as_it_is():
    assert Problem("f.yaml", 1, 1, "unknown fact 'x'").message == "unknown fact 'x'"
