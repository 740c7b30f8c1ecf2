# triops — the two commands first: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test faults install lint format bench docs clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

## Start the embedded stack and run the sample scenario (Ctrl-C stops everything).
demo: install
	$(BIN)/triops up --demo

## The whole suite. Uses TRIOPS_DATABASE_URL / TRIOPS_REDIS_URL when set, embedded defaults otherwise.
test: install
	$(BIN)/pytest

## Only the fault drills (part of `make test`): figures in var/faults/figures.json.
faults: install
	$(BIN)/pytest -m faults

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Quality and speed figures: var/bench/*.json, then var/bench/results.json (ratios to same-run baselines) and results.png.
bench: install
	$(BIN)/python -m bench

## The documentation site (mkdocs-material) into site/; --strict: a broken link or anchor fails it.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) var site .pytest_cache .mypy_cache .ruff_cache
