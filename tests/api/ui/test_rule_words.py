"""Rules in words on the pages (api.ui.rules), drawn from what the compiler recorded: no text is
tokenized again, so the words follow the condition's structure."""
import pytest

from api.ui import rules
from engine.language.conditions import describe
from engine.rulebook import RuleBook


@pytest.fixture(scope="module")
def sla():
    return RuleBook.load("rules", backend="python").get("sla").ruleset


def test_the_failed_part_of_a_rule_is_shown_in_words_each_value_by_its_own_fact(sla):
    rule = sla.rule("SLA-501")
    shown = str(rules.failed_part(sla, rule.id, describe(rule.when), "zh"))
    # `severity == 'major' or incident_class == 'major'`: each 'major' in the words of its own enum
    assert "重大故障" in shown and "重大质量事故" in shown
    assert " 或 " in shown


def test_a_keyword_before_a_bracket_is_a_word_not_a_function(sla):
    rule = sla.rule("SLA-RS.met")
    shown = str(rules.failed_part(sla, rule.id, describe(rule.when), "zh"))
    assert "<code>and</code>" not in shown and " 且 " in shown


def test_a_text_the_rule_does_not_hold_is_not_shown_as_its_part(sla):
    assert rules.failed_part(sla, "SLA-501", "no such part", "zh") is None
    assert rules.failed_part(sla, "NO-SUCH-RULE", "x", "zh") is None
