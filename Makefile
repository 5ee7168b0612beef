# The README's commands. Each creates .venv and installs the project on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
PORT   ?= 8888
export CAMLIB_PROFILE ?= fast

.PHONY: install lab test lint typecheck unit course-check notebooks bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade "pip>=23"
	$(BIN)/python -m pip install -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install camlib with its dev tools

lab: $(STAMP) ## open JupyterLab on notebooks/ (127.0.0.1 only; the URL with its token is printed)
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) \
		--no-browser $(if $(filter 0,$(shell id -u)),--allow-root)

lint: $(STAMP)
	$(BIN)/ruff check camlib tests benchmarks scripts notebooks
	$(BIN)/ruff format --check camlib tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

course-check: $(STAMP) ## notebooks/ (student) and solutions/ are what course/ builds (scripts/build_notebooks.py)
	$(BIN)/python scripts/build_notebooks.py --check

notebooks: $(STAMP) ## the STUDENT notebooks under nbval: every exercise check says "not attempted", nothing fails
	@if ls notebooks/*.ipynb >/dev/null 2>&1; then \
		$(BIN)/pytest -p no:cacheprovider --nbval-lax --nbval-sanitize-with notebooks/sanitize.cfg notebooks -o addopts="" ; \
	else echo "no notebooks yet"; fi

test: lint typecheck course-check unit notebooks ## every check: ruff, mypy, built notebooks up to date, unit tests, nbval (fast profile)

bench: $(STAMP) ## measure and rewrite benchmarks/RESULTS.md (not part of make test)
	$(BIN)/python -m pip install -e ".[dev,bench]"
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
