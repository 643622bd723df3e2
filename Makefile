# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STORE  ?= var/store

.PHONY: install install-test run load test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

load: install
	$(BIN)/kg load --store $(STORE)

# Installs, loads the curated data into the embedded store and serves it on 127.0.0.1:8000.
run: load
	$(BIN)/kg serve --store $(STORE) --host 127.0.0.1 --port 8000

# Installs with the test extras and runs the whole test suite.
test: install-test
	$(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/ruff check kg api tests scripts

clean:
	rm -rf $(VENV) var
