# Two commands do all the set-up: `make lab` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
ARGS   ?=
# `make test` runs the notebooks on small slices of the corpora (same code paths); QUICK=0 runs them in full.
QUICK  ?= 1
REPORTS ?= reports
# Hash-locked pins of every dependency and extra (`make lock` regenerates the file).
LOCK   := requirements/lock.txt
LOCK_EXTRAS := lab tune api postgres pglocal dask bench test lint
# Jupyter refuses to run as root (containers, CI) without this flag.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lock lab test lint readme pg-local serve report bench bench-options bench-scale install-lab install-test install-bench install-browser clean

$(VENV)/bin/python:
	@echo "First run: creating $(VENV) and installing the package with JupyterLab, ipywidgets, the local"
	@echo "embedder and its ONNX runtime (about 4-5 minutes on 2 cores; later runs start at once)."
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Every install goes through the hash-locked requirements file (all extras: make lab, make test and CI
# get the same pinned, hash-checked set), then the project itself without dependencies.
$(VENV)/.installed: $(VENV)/bin/python $(LOCK) pyproject.toml
	@echo "Installing the hash-locked requirements into $(VENV) (a few minutes the first time; pip works quietly)..."
	$(PIP) install --quiet --require-hashes -r $(LOCK)
	$(PIP) install --quiet --no-deps -e .
	touch $@

$(VENV)/.lab-installed $(VENV)/.pglocal-installed $(VENV)/.test-installed \
$(VENV)/.bench-installed $(VENV)/.api-installed: $(VENV)/.installed
	touch $@

# Regenerates $(LOCK) from pyproject.toml (every extra, any platform, Python 3.11) with uv; re-run it
# after changing a dependency (tests/test_packaging.py fails while the lock and pyproject disagree).
lock: $(VENV)/bin/python
	$(PIP) install --quiet "uv>=0.9,<1"
	$(VENV)/bin/uv pip compile pyproject.toml $(addprefix --extra ,$(LOCK_EXTRAS)) \
	  --generate-hashes --universal --python-version 3.11 --quiet -o $(LOCK)

install-lab: $(VENV)/.lab-installed
install-bench: $(VENV)/.bench-installed
install-test: $(VENV)/.test-installed

lab: install-lab
	@echo "Starting JupyterLab on notebooks/ (quick mode: SMOLRAG_LAB_QUICK=1 make lab)."
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(ARGS)

# A local PostgreSQL 18 with pgvector (data in smolrag_data/pgdata, reused): prints only its DSN, so
# `export SMOLRAG_DATABASE_URL=$$(make -s pg-local)` points the notebooks and the CLI at it.
pg-local: $(VENV)/.pglocal-installed
	@$(PY) -m smolrag_lab.cli pg-local

# Headless Chromium for the graph-page test (Debian's package; needs root and apt, as in CI).
install-browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else echo "chromium not installed and no root apt-get: the browser test will be skipped"; fi; }

# ruff (lint + format), mypy on the package, and the README's generated tables against benchmarks/results.
LINTED := smolrag_lab tests benchmarks
lint: install-test
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy
	$(VENV)/bin/cog -I . --check README.md

# Rewrites the README's generated blocks (result tables, --help excerpts) from benchmarks/results/*.json.
readme: install-test
	$(VENV)/bin/cog -I . -r README.md

test: install-test install-browser
	SMOLRAG_LAB_QUICK=$(QUICK) $(PY) -m pytest $(ARGS)

# The HTTP API (POST /query and more); ARGS="--no-auth" for local use, else set SMOLRAG_API_TOKEN.
serve: $(VENV)/.api-installed
	$(PY) -m smolrag_lab.cli serve $(ARGS)

# Every benchmark in benchmarks/ (figures printed and written to benchmarks/results/*.json).
bench: install-bench
	$(PY) -m benchmarks $(ARGS)
	$(VENV)/bin/cog -I . -r README.md

# The optimisation options (compression, PCA, pruning, parallel retrieval, auto, load test) on both
# datasets, and vector options at 200,000 vectors: benchmarks/results/options.json, vector_options.json.
bench-options: install-test
	$(PY) -m benchmarks options vector_options

# PostgreSQL + pgvector beside the file backend (demo corpus; 200,000 synthetic vectors) and the
# HTTP API under concurrent clients, and ingestion on each executor: benchmarks/results/postgres.json,
# api_load.json, executors.json.
bench-scale: install-test
	$(PY) -m benchmarks postgres api_load executors

# Executes every notebook headless on the full datasets, in order, on a fresh lab index (timed:
# benchmarks/results/notebooks_<mode>.json); HTML pages, benchmark files and graph pages land in
# $(REPORTS)/ (notebooks/, benchmarks/<dataset>/, graph/); then runs them in JupyterLab in headless
# Chromium and writes a screenshot of each to $(REPORTS)/screenshots/.
report: install-test install-browser
	SMOLRAG_LAB_QUICK=$${SMOLRAG_LAB_QUICK:-0} SMOLRAG_REPORTS=$(abspath $(REPORTS)) \
	  $(PY) -m benchmarks.notebooks --out-dir $(REPORTS)/notebooks
	$(VENV)/bin/cog -I . -r README.md
	@echo "Screenshots of each notebook run in JupyterLab (headless Chromium) -> $(REPORTS)/screenshots/"
	SMOLRAG_LAB_QUICK=$${SMOLRAG_LAB_QUICK:-0} SMOLRAG_SCREENSHOTS=$(abspath $(REPORTS))/screenshots \
	  SMOLRAG_BROWSER_NOTEBOOKS=all $(PY) -m pytest -q -p no:cacheprovider tests/test_notebook_browser.py

clean:
	rm -rf $(VENV) .pytest_cache
