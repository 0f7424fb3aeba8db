# imurun: two commands for a fresh clone, `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The peer libraries of the benchmarks pin older numpy/pandas: their own environment, never .venv
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export IMURUN_SHARED_DATA ?= $(abspath ../shared/data)

.PHONY: demo test bench lint validate sysdeps clean help

help:
	@echo "make demo      install into .venv, then a team's three weeks: virtual sensors -> sync -> reports -> weekly (demo-output/)"
	@echo "make test      install into .venv and run the whole test suite"
	@echo "make bench     run the benchmarks, peers side by side (results in benchmarks/results/)"
	@echo "make lint      ruff + mypy"
	@echo "make validate  regenerate docs/validation.md from data"

# System packages the suite needs (socat for pseudo-terminal pairs, a C compiler for the
# firmware reference and avr-gcc to build it for an 8-bit microcontroller, Debian's Chromium for
# the browser checks of the reports). Installed only when missing.
sysdeps:
	@command -v socat >/dev/null 2>&1 || { echo "installing socat"; $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat >/dev/null; }
	@command -v cc >/dev/null 2>&1 || { echo "installing a C compiler"; $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null; }
	@command -v avr-gcc >/dev/null 2>&1 || { echo "installing avr-gcc (the C reference must build for a 16-bit int and size_t)"; $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-avr avr-libc >/dev/null; }
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium (browser checks of the reports)"; $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Editable install in setuptools' "compat" mode: the repository is put on the path by a .pth
# file, which type checkers follow, so `mypy --strict` on a script of yours finds imurun and its
# types (tests/test_typed_api.py). The default ("lenient") mode installs an import hook that only
# Python itself sees: mypy said "Cannot find implementation or library stub for module named
# 'imurun'". Edits, new modules and branch switches show up without reinstalling. (The "strict"
# mode would work for mypy too, but needs a reinstall after adding a module.) The Makefile is a
# prerequisite so that an existing .venv is reinstalled in this mode.
EDITABLE_MODE ?= compat

$(STAMP): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]' --config-settings editable_mode=$(EDITABLE_MODE)
	@touch $(STAMP)

demo: sysdeps $(STAMP)
	$(BIN)/python -m imurun.demo

test: sysdeps $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

$(BENCH_VENV)/bin/python:
	$(PY) -m venv $(BENCH_VENV)

# GaitPy 1.6.1 pins pandas 0.20 / numpy 1.13, so it goes in without its pins (PEERS.md)
$(BENCH_STAMP): pyproject.toml | $(BENCH_VENV)/bin/python
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q -e '.[bench]'
	$(BENCH_VENV)/bin/python -m pip install -q --no-deps gaitpy==1.6.1
	@touch $(BENCH_STAMP)

bench: sysdeps $(STAMP) $(BENCH_STAMP)
	IMURUN_BENCH_PYTHON=$(abspath $(BENCH_VENV))/bin/python $(BIN)/python -m benchmarks.run

lint: $(STAMP)
	$(BIN)/ruff check imurun firmware_protocol tests benchmarks
	$(BIN)/mypy

validate: $(STAMP)
	$(BIN)/python -m imurun.validation.report --out docs/validation.md

clean:
	rm -rf $(VENV) $(BENCH_VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
