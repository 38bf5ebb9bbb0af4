# cipmodel — make targets. `make demo` and `make test` each create .venv and install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Quiet installs: setuptools' editable-install notices are not errors (pip still fails loudly).
PIP    := PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet --disable-pip-version-check
PYTEST_ARGS ?=

.PHONY: demo test lint bench fuzz-long templates clean help

help:
	@echo "make demo       run the bundled example (an acute trust asked for an 11% CIP)"
	@echo "make test       run the whole test suite (LibreOffice checks skip if soffice is missing)"
	@echo "make lint       ruff check, ruff format --check, mypy (make test runs it first)"
	@echo "make bench      run the benchmarks and print their tables"
	@echo "make templates  regenerate templates/*.xlsx from the code"
	@echo "make fuzz-long  the long fuzz run (50,000 hostile and broken inputs)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[plot]'
	touch $@

# The distributed extra (Dask) too, so tests/test_distributed.py runs; `.[test]` alone works
# (those tests then skip, saying why).
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test,distributed]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/cipmodel demo --out demo-output --force

# The whole check: style (ruff), types (mypy), then the suite (which also runs the
# import-linter layers contract and the architecture checks in tests/test_architecture.py).
test: lint $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run.py

templates: $(VENV)/.installed
	$(BIN)/cipmodel template templates/plan-template.xlsx --force
	$(BIN)/cipmodel template templates/example-acute-11pc.xlsx --example acute-11pc --force

# The long fuzz run (50,000 cases on every core; prints its seed, replay with --seed S --only N).
fuzz-long: $(VENV)/.installed-test
	$(BIN)/python tests/fuzz/run_long.py --cases 50000

clean:
	rm -rf $(VENV) demo-output .pytest_cache .hypothesis
