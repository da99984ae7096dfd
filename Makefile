# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PORT   ?= 8080
BIN    := $(VENV)/bin

.PHONY: run test bench bench-deps bench-engine bench-http bench-startup bench-impact bench-hardening bench-soak bench-profile clean

$(BIN)/aftersales: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/aftersales
	$(BIN)/aftersales serve --port $(PORT)

# pytest runs under tests/pg_harness.sh: a throw-away PostgreSQL on loopback for the decision-log tests.
# tests/browser_setup.sh installs Debian's chromium for the browser tests, which must run here (not skip).
test: $(BIN)/aftersales
	bash tests/browser_setup.sh
	AFTERSALES_REQUIRE_BROWSER=1 bash tests/pg_harness.sh $(BIN)/python -m pytest
	$(BIN)/aftersales test rules --min-coverage 100

bench: bench-startup bench-engine bench-http

# The benchmarks and long hardening runs of bench/RESULTS.md, one command each.
bench-deps: $(BIN)/aftersales
	$(BIN)/pip install --quiet -e '.[test,bench]'
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)

bench-engine: bench-deps
	$(BIN)/python bench/engine.py --cases 10000 --json bench/results/engine.json

bench-http: bench-deps
	$(BIN)/python bench/http_load.py --json bench/results/http.json

bench-startup: bench-deps
	$(BIN)/python bench/startup.py

bench-impact: bench-deps
	$(BIN)/python bench/impact.py --cases 1000000

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
