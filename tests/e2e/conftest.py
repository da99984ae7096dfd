"""The end-to-end tests: real `aftersales serve` subprocesses, the browser, schemathesis, the
hardening runs and the rule-file fuzzing. Everything in this folder is marked `e2e`, so
`make test-fast` (`pytest -m "not e2e"`) leaves it out and `make test` runs it."""
import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)


# -- the browser: one Chromium for the whole session (two sync_playwright instances cannot run at once)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _missing(reason: str):
    if os.environ.get("AFTERSALES_REQUIRE_BROWSER"):
        pytest.fail(f"{reason} (AFTERSALES_REQUIRE_BROWSER is set: `make test` needs the browser tests; "
                    "run `bash tests/browser_setup.sh` as root)")
    pytest.skip(f"{reason}: run `bash tests/browser_setup.sh` (or `make test`, which does)")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} not found")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
