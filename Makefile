# Set-up and entry points. `make demo` and `make test` create .venv, install pmm (again only
# when pyproject.toml changed), then run the demo or the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

DEMO := demo
PHANTOM_SITES := ttg tti brats isles

.PHONY: install demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The embedded demo on what pmm does today: write the four-site phantom federation, then
# preprocess every site into the cache. Training and evaluation join when they land.
demo: $(STAMP)
	$(BIN)/pmm phantom --out $(DEMO) --seed 0
	for site in $(PHANTOM_SITES); do \
		$(BIN)/pmm prepare --site $(DEMO)/sites/$$site.toml --cache-dir $(DEMO)/cache || exit 1; \
	done
	@echo "demo: phantom in $(DEMO)/ (montage.png per site), cache in $(DEMO)/cache/"

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) pmm_cache $(DEMO)
