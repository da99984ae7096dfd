# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PORT   ?= 8080
BIN    := $(VENV)/bin

.PHONY: run test bench clean

$(BIN)/aftersales: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/aftersales
	$(BIN)/aftersales serve --port $(PORT)

# pytest runs under tests/pg_harness.sh: a throw-away PostgreSQL on loopback for the decision-log tests.
test: $(BIN)/aftersales
	bash tests/pg_harness.sh $(BIN)/python -m pytest
	$(BIN)/aftersales test rules --min-coverage 100

bench: $(BIN)/aftersales
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) var *.egg-info
