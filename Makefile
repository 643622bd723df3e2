# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
NPM    ?= npm
VENV   ?= .venv
BIN     = $(VENV)/bin
STORE  ?= var/store

.PHONY: install install-test browser engines run load test fuzz lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The UI's libraries (YASGUI, vis-timeline, vis-network) from the npm registry, as pinned by
# ui/package-lock.json; the server serves them itself (no CDN). npm writes the stamp file.
UI_STAMP = ui/node_modules/.package-lock.json
$(UI_STAMP): ui/package.json ui/package-lock.json
	$(NPM) ci --prefix ui --no-audit --no-fund --ignore-scripts --loglevel=error

install: $(BIN)/python $(UI_STAMP)
	$(BIN)/pip install --quiet -e .

# Debian's Chromium for the browser tests (installed if missing).
browser:
	scripts/ensure-chromium

# Debian's Virtuoso for the remote-store tests and benchmarks (installed if missing; the
# tests run their own instance: tests/engines.py).
engines:
	scripts/ensure-virtuoso

install-test: $(BIN)/python $(UI_STAMP) browser engines
	$(BIN)/pip install --quiet -e '.[test]'

load: install
	$(BIN)/kg load --store $(STORE)

# Installs, loads the curated data into the embedded store and serves it on 127.0.0.1:8000.
run: load
	$(BIN)/kg serve --store $(STORE) --host 127.0.0.1 --port 8000

# Installs with the test extras and runs the whole test suite, in two processes (the
# machine's two cores; TEST_PROCESSES=0 runs it in one). Each external engine's tests stay
# in one process (tests/conftest.py), so each engine is started once.
TEST_PROCESSES ?= 2
test: install-test
	$(BIN)/python -m pytest -q --durations=30 -n $(TEST_PROCESSES) --dist loadgroup

# The hostile-input fuzz targets run long (`make test` runs them with 40 examples each);
# the inputs tried per target are written to bench/results/hostile.json.
FUZZ_EXAMPLES ?= 250
fuzz: install-test
	GEOKG_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) GEOKG_FUZZ_REPORT=bench/results/hostile.json \
		$(BIN)/python -m pytest -q tests/test_hostile_input.py

lint: install-test
	$(BIN)/ruff check kg api tests scripts

clean:
	rm -rf $(VENV) var ui/node_modules
