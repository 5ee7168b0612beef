# The README's commands. Each creates .venv and installs the project on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
DOCTOR := $(VENV)/.doctor-ready
PORT   ?= 8888
LAB_ARGS ?=
export CAMLIB_PROFILE ?= fast
# make test runs its tests in this many pytest-xdist workers (one file, or one notebook, per worker at a time);
# TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2
XDIST  := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)
# two notebook kernels at once on 2 cores: one torch thread each (two threads each made both spin-wait; the
# committed outputs were executed with one thread too)
NB_ENV := $(if $(filter 0,$(TEST_WORKERS)),,OMP_NUM_THREADS=1 MKL_NUM_THREADS=1)

.PHONY: install lab test lint typecheck unit course-check notebooks bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade "pip>=23"
	$(BIN)/python -m pip install -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## create .venv, install camlib with its dev tools, end with the doctor's verdict
	@$(BIN)/python -m camlib doctor --brief && touch $(DOCTOR)

# make lab's first run (and the first after an install) checks the machine; later runs start at once.
$(DOCTOR): $(STAMP)
	@$(BIN)/python -m camlib doctor --brief && touch $@ \
		|| echo "JupyterLab starts anyway; the course will not run until the errors above are fixed."

lab: $(DOCTOR) ## JupyterLab with the course's settings (.jupyter-course/), on notebook 00: prints one URL (127.0.0.1, token)
	@echo "Starting JupyterLab on notebooks/00_start_here.ipynb: open the URL below (Ctrl-C twice stops it)."
	@$(BIN)/jupyter lab --config=.jupyter-course/jupyter_lab_config.py --ServerApp.port=$(PORT) \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check camlib tests benchmarks scripts notebooks
	$(BIN)/ruff format --check camlib tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest $(XDIST)

course-check: $(STAMP) ## notebooks/ (student) and solutions/ are what course/ builds (scripts/build_notebooks.py)
	$(BIN)/python scripts/build_notebooks.py --check

notebooks: $(STAMP) ## the STUDENT notebooks under nbval: every exercise check says "not attempted", nothing fails
	@if ls notebooks/*.ipynb >/dev/null 2>&1; then \
		$(NB_ENV) $(BIN)/pytest -p no:cacheprovider $(XDIST) --nbval-lax --nbval-sanitize-with notebooks/sanitize.cfg notebooks -o addopts="" ; \
	else echo "no notebooks yet"; fi

test: lint typecheck course-check unit notebooks ## every check: ruff, mypy, built notebooks up to date, unit tests, nbval (fast profile)

bench: $(STAMP) ## measure and rewrite benchmarks/RESULTS.md (not part of make test)
	$(BIN)/python -m pip install -e ".[dev,bench]"
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
