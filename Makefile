# The commands of the README: `make run`, `make test` and `make test-fast`.
PYTHON ?= python3.11
VENV   := .venv
PORT   ?= 8080
BIN    := $(VENV)/bin
LOCKENV := /tmp/aftersales-lock
UV     := $(LOCKENV)/bin/uv

.PHONY: run test test-fast lock bench bench-deps bench-engine bench-http bench-startup bench-impact bench-export bench-hardening bench-soak bench-profile clean

# The venv holds exactly the locked set, every file checked against its hash. The build tools come
# first, from their own lock: durable-rules builds from its sdist, and pip's build isolation would
# fetch setuptools without a hash, so it builds with the locked ones (--no-build-isolation).
# An edit of a lock file or of pyproject.toml reinstalls.
$(VENV)/.runtime: requirements-build.lock requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-build.lock
	$(BIN)/pip install --quiet --require-hashes --no-build-isolation -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime requirements-test.lock
	$(BIN)/pip install --quiet --require-hashes --no-build-isolation -r requirements-test.lock
	touch $@

# Development mode: each saved change of rules/ becomes the active release at once (loopback, no tokens).
run: $(VENV)/.runtime
	AFTERSALES_MODE=development $(BIN)/aftersales serve --port $(PORT)

# pytest runs under tests/pg_harness.sh: a throw-away PostgreSQL on loopback for the decision-log tests.
# tests/browser_setup.sh installs Debian's chromium for the browser tests, which must run here (not skip);
# tests/office_setup.sh LibreOffice for the workbook test of a LibreOffice-saved file (likewise).
# The YAML rule tests run inside pytest (tests/engine/tooling/test_rule_tests.py, both backends, 100% coverage).
test: $(VENV)/.test
	bash tests/browser_setup.sh
	bash tests/office_setup.sh
	AFTERSALES_REQUIRE_BROWSER=1 AFTERSALES_REQUIRE_OFFICE=1 bash tests/pg_harness.sh $(BIN)/python -m pytest
	$(BIN)/lint-imports

# Everything but the end-to-end tests (tests/e2e/: real servers, the browser, schemathesis, hardening runs),
# spread over the cores (pytest-xdist).
test-fast: $(VENV)/.test
	bash tests/pg_harness.sh $(BIN)/python -m pytest -m "not e2e" --ignore=tests/e2e -n auto
	$(BIN)/lint-imports

# After an edit of the dependencies in pyproject.toml: re-resolve the lock files (uv, in a scratch venv
# outside the project). Versions already locked stay unless the new ranges exclude them.
lock:
	test -x $(UV) || ($(PYTHON) -m venv $(LOCKENV) && $(LOCKENV)/bin/pip install --quiet uv)
	$(UV) pip compile pyproject.toml --generate-hashes --python-version 3.11 \
		--custom-compile-command "make lock" -o requirements.lock
	$(UV) pip compile pyproject.toml --extra test --generate-hashes --python-version 3.11 \
		--custom-compile-command "make lock" -o requirements-test.lock
	printf 'pip\nsetuptools>=68\nwheel\n' | $(UV) pip compile - --generate-hashes --python-version 3.11 \
		--custom-compile-command "make lock" -o requirements-build.lock

bench: bench-startup bench-engine bench-http

# The benchmarks and long hardening runs of bench/RESULTS.md, one command each.
# The bench extras are not locked: they are pinned in pyproject.toml and installed on top of the test set.
bench-deps: $(VENV)/.test
	$(BIN)/pip install --quiet --no-build-isolation -e '.[test,bench]'
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)

bench-engine: bench-deps
	$(BIN)/python bench/engine.py --cases 10000 --json bench/results/engine.json

bench-http: bench-deps
	$(BIN)/python bench/http_load.py --json bench/results/http.json

bench-startup: bench-deps
	$(BIN)/python bench/startup.py

bench-impact: bench-deps
	$(BIN)/python bench/impact.py --cases 1000000

# 1,000,000 logged decisions (about 5 GB of SQLite under /tmp) exported to Parquet: wall time and peak RSS.
bench-export: bench-deps
	$(BIN)/python bench/export_parquet.py --decisions 1000000 --json bench/results/export.json

bench-hardening: bench-deps
	$(BIN)/python bench/hardening.py concurrency --seconds 60
	$(BIN)/python bench/hardening.py reload-storm --edits 200
	$(BIN)/python bench/hardening.py fuzz --requests 5000

bench-soak: bench-deps
	$(BIN)/python bench/hardening.py soak --seconds 600

bench-profile: bench-deps
	$(BIN)/python bench/profile.py

clean:
	rm -rf $(VENV) var *.egg-info
