# Two commands do all the set-up on a fresh machine (see README):
#   make run    installs envmine, brings up Docker and the base images, runs the default job
#   make test   the same set-up, then the test suite (Docker tests included)
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
PEERS ?= .peers

.PHONY: install setup run test test-fast peers

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,rl,review,distributed]'
	touch $@

setup: install
	$(BIN)/envmine setup

run: setup
	$(BIN)/envmine run

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/pytest -m "not docker and not slow" $(PYTEST_ARGS)

# The peers' own PyPI releases, for the tests that load and grade envmine's exports with them
# (tests/warehouse/test_peers_*.py): a separate venv, never imported by envmine.
peers: $(PEERS)/.installed

$(PEERS)/.installed:
	python3 -m venv $(PEERS)
	$(PEERS)/bin/pip install -q --upgrade pip
	$(PEERS)/bin/pip install -q swebench==5.0.2 mini-swe-agent==2.4.6 datasets==5.2.0 pandas polars
	touch $@
