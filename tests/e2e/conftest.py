"""The end-to-end tests: real `aftersales serve` subprocesses, the browser, schemathesis, the
hardening runs and the rule-file fuzzing. Everything in this folder is marked `e2e`, so
`make test-fast` (`pytest -m "not e2e"`) leaves it out and `make test` runs it."""
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)
