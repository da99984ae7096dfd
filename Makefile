# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench clean

$(BIN)/aftersales: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/aftersales
	$(BIN)/aftersales eval warranty examples/warranty/free_repair.json --as-of 2026-11-25

test: $(BIN)/aftersales
	$(BIN)/python -m pytest

bench: $(BIN)/aftersales
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) var *.egg-info
