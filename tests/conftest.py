import os
import secrets
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest

from engine.rulebook import RuleBook

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
FLAWED = ROOT / "tests" / "fixtures" / "flawed"  # a rule set with every finding of `aftersales check`
FLOOR_85, FLOOR_80 = "  floor_ratio:\n    value: 0.85\n", "  floor_ratio:\n    value: 0.80\n"
"""The scrap floor ratio of rules/scrap_pricing.yaml, and the policy owner's edit the impact tests make."""


def rules_with_floor_080(folder: Path) -> Path:
    """A copy of the shipped rules in `folder` with the scrap floor at 80 % of the market price, not 85 %."""
    shutil.copytree(RULES, folder)
    path = folder / "scrap_pricing.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(FLOOR_85) == 1, "rules/scrap_pricing.yaml no longer holds the 0.85 floor ratio"
    path.write_text(text.replace(FLOOR_85, FLOOR_80), encoding="utf-8")
    return folder
PG_URL = os.environ.get("AFTERSALES_TEST_DATABASE_URL")
PG_REQUIRED = bool(os.environ.get("AFTERSALES_REQUIRE_POSTGRES"))


@pytest.fixture(scope="session")
def books():
    """The shipped rules, loaded once per backend."""
    return {b: RuleBook.load(RULES, backend=b) for b in ("durable", "python")}


def _with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def pg_url():
    """A URL for an empty decision log in a fresh PostgreSQL schema (dropped afterwards)."""
    if not PG_URL:
        if PG_REQUIRED:
            pytest.fail("AFTERSALES_REQUIRE_POSTGRES is set but AFTERSALES_TEST_DATABASE_URL is not")
        pytest.skip("PostgreSQL tests need AFTERSALES_TEST_DATABASE_URL "
                    "(`make test` starts a server via tests/pg_harness.sh)")
    import psycopg

    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield _with_search_path(PG_URL, schema)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A URL for an empty decision log on each store."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log' / 'decisions.db'}"
    return request.getfixturevalue("pg_url")
