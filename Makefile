# The two set-up commands of the README: `make run` and `make test`. Both install what a fresh
# machine lacks (a virtualenv with the package, Debian packages the tests need) before they work.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
STAMP_SYSTEM := .venv/.installed-system

.PHONY: run test lint bench venv clean peers

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[webhook]'
	touch $@

$(STAMP_TEST): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

$(STAMP_SYSTEM): scripts/install-system.sh | $(VENV)/bin/python
	bash scripts/install-system.sh
	touch $@

venv: $(STAMP_TEST)

# The seed's workflow on the local cluster: its secrets are created in the local store if absent
# (TASKSECRETS_HOME, default the user's data directory), then each task runs as a pod.
run: $(STAMP_RUN)
	bash scripts/seed-secrets.sh $(VENV)/bin/tasksecrets
	$(VENV)/bin/tasksecrets run examples/use_secrets.py my_secret_workflow

lint: $(STAMP_TEST)
	$(VENV)/bin/ruff check src tests examples benchmarks
	$(VENV)/bin/ruff format --check src tests examples benchmarks
	$(VENV)/bin/mypy

# The test peers built from published Go modules (kube-apiserver, kubectl, etcd), cached by go.sum.
peers:
	bash scripts/build-controlplane.sh

test: $(STAMP_TEST) $(STAMP_SYSTEM) lint peers
	$(VENV)/bin/pytest -q -p no:cacheprovider

bench: $(STAMP_TEST) $(STAMP_SYSTEM)
	for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
