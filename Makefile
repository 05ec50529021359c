# Hushphone: `make demo` runs the demo, `make test` runs every test, `make
# bench` prints the benchmarks. Each sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: venv system-packages test test-core bench demo soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

system-packages:
	./tools/ensure-system-packages.sh

test: venv system-packages
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

# The core suite alone, on both runtimes.
test-core: venv
	$(PY) -m pytest tests/core tests/test_core_on_micropython.py $(PYTEST_ARGS)

bench: venv system-packages
	$(PY) bench/run_all.py

demo: venv system-packages
	$(PY) -m hushctl demo

# 30 minutes of SIPp calls through Kamailio to simulated handsets, a call
# every 3 s; prints each handset's heap and descriptors every minute.
soak: venv system-packages
	$(PY) -m tests.sim.sipp_load --minutes 30 --interval 3

clean:
	rm -rf $(VENV) build *.egg-info

# SIP/SDP/user-agent mutation fuzzing, 1,000,000 inputs per runtime
# (CI runs 30,000 of them in `make test`); FUZZ_ARGS="--seed S" repeats a run.
.PHONY: fuzz
fuzz: venv
	$(PY) tools/fuzz_sip.py $(FUZZ_ARGS)
