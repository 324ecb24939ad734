# Two commands do all the set-up: `make lab` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
ARGS   ?=

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
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ARGS)

test: install-test
	$(PY) -m pytest $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
