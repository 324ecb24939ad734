# Two commands do all the set-up: `make lab` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
ARGS   ?=
# Jupyter refuses to run as root (containers, CI) without this flag.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test install-lab install-test clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.lab-installed: $(VENV)/bin/python pyproject.toml
	$(PIP) install --quiet -e ".[lab]"
	touch $@

$(VENV)/.test-installed: $(VENV)/bin/python pyproject.toml
	$(PIP) install --quiet -e ".[lab,test]"
	touch $@

install-lab: $(VENV)/.lab-installed
install-test: $(VENV)/.test-installed

lab: install-lab
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(ARGS)

test: install-test
	$(PY) -m pytest $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
