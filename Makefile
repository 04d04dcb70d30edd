# Set-up and entry points. `make demo` and `make test` create .venv, install pmm (again only
# when pyproject.toml changed), then run the demo or the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

DEMO := demo

.PHONY: install demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python tools/install.py
	touch $(STAMP)

install: $(STAMP)

# The embedded demo: phantom federation -> prepare -> short training -> evaluation -> table.
demo: $(STAMP)
	$(BIN)/pmm demo --out $(DEMO)

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) pmm_cache $(DEMO)
