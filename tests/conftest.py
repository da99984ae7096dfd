from pathlib import Path

import pytest

from engine.rulebook import RuleBook

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"


@pytest.fixture(scope="session")
def books():
    """The shipped rules, loaded once per backend."""
    return {b: RuleBook.load(RULES, backend=b) for b in ("durable", "python")}
