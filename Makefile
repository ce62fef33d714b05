# geostack.kargo: one-command set-up, test, demo and benchmarks.
# Every target sets up what it needs itself (venv, collection link, Docker Engine).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
COLLECTION_LINK := .collections/ansible_collections/geostack/kargo
# prints how long a set-up step took ([time] NAME: N s); pytest prints its own times
TIMED := bash scripts/timed.sh
# The venv's Python: the distribution's own when it can make one (Debian builds it with
# PGO and LTO: Ansible and its modules used a quarter less CPU on it than on a pyenv
# build of the same version, measured here), else the python3 found first on PATH.
PYTHON ?= $(shell /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1 && echo /usr/bin/python3 || echo python3)

.PHONY: help setup venv collection engine browser test unit integration demo bench clean clean-machine

help:
	@echo "make demo   deploy the geospatial stack on this host (Compose mode) and print its URLs"
	@echo "make test   set up everything (venv, Docker Engine, test images) and run every test"
	@echo "make bench  run the benchmarks and print their figures"
	@echo "make clean-machine  remove what the project made here (images, labs, venv...) for a cold run"

setup: venv collection engine

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	@echo "[setup] Python venv in $(VENV) with the pinned requirements"
	$(TIMED) venv bash -c 'set -e; test -x $(PY) || $(PYTHON) -m venv $(VENV); \
	  $(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt'
	touch $@

collection: $(COLLECTION_LINK)
$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

engine:
	$(TIMED) engine bash scripts/ensure-docker.sh

# Debian's chromium, headless, for the tests of the pages (not needed by the demo)
browser:
	$(TIMED) browser bash scripts/ensure-browser.sh

unit: venv collection
	$(PY) -m pytest tests/unit -q

# two pytest processes at once: the files that make labs of hosts, and the others
# (tests/run_streams.py says why); one file alone: $(PY) -m pytest tests/integration/<file>
integration: setup browser
	$(PY) tests/run_streams.py --integration-only

test: setup browser
	$(PY) tests/run_streams.py

demo: setup
	bash scripts/demo.sh

bench: setup
	$(PY) bench/swarm_stack_noop.py
	$(PY) bench/stack_deploy.py
	$(PY) bench/lab_nodes.py
	$(PY) bench/backup_restore.py
	$(PY) bench/serving_load.py
	$(PY) bench/compose_update_gap.py
	$(PY) bench/swarm_update_gap.py
	$(PY) bench/datasets_load.py

clean:
	rm -rf .collections .pytest_cache

# Everything the project made on this machine (engine objects, labs, files, venv), for a
# cold run; `bash scripts/clean-machine.sh --engine` also removes the engine it installed.
clean-machine:
	bash scripts/clean-machine.sh
