# Two commands for a newcomer on Debian/Ubuntu: `make compare` and `make test`.
# Each installs what is missing (Debian packages, then the Python environment from
# uv.lock) and then runs. Needs root or sudo for apt-get and for network namespaces.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian packages the testbed runs with, in one list.
DEBIAN_PACKAGES := python3 python3-venv iproute2 iputils-ping tshark netcat-openbsd procps prosody libcoap3-bin openssl qemu-system-arm firmware-microbit-micropython gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi \
	make gcc libc6-dev git openssh-server ser2net avahi-daemon avahi-utils dbus
# node and npm run MicroPython 1.27's webassembly port; a machine with another Node.js
# distribution (whose nodejs package carries npm) keeps it: only missing commands are installed
NODE_PACKAGES := nodejs npm
# Optional: the report's screenshots and its browser test. Ubuntu ships chromium as a snap only,
# so these are tried one by one and a failure only skips that test.
OPTIONAL_DEBIAN_PACKAGES := chromium chromium-driver
UV_VERSION := 0.13.8

# sudo keeps UV_CACHE_DIR (.ci/run's empty cache must reach the installed-package test)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo --preserve-env=UV_CACHE_DIR)
# After a run through sudo, hand what it wrote in the checkout back to the user.
OWN_BACK := $(if $(SUDO),$(SUDO) chown -R $$(id -u):$$(id -g) reports .pytest_cache .hypothesis \
	$$(find testbed tests nodes suites benchmarks -name __pycache__ -user 0 2>/dev/null) \
	$$(find build/firmware -maxdepth 0 -user 0 2>/dev/null) 2>/dev/null || true,true)
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help deps privileges system-deps python-env contiki micropython-wasm compare test test-fast bench readme-figures clean lock

help:
	@echo "make compare   install what is missing, run the XMPP-vs-CoAP comparison on the emulated testbed"
	@echo "make test      install what is missing, run the test suite (slow end-to-end runs included)"
	@echo "make bench     run the benchmarks (codec vs scapy, analysis vs tshark, bring-up of 50/100-node grids, a 100-node Contiki grid)"
	@echo "make readme-figures  run the comparison as make compare does and put its verdict and table into README.md"
	@echo "make clean     remove namespaces, TAPs and processes a killed run left behind"

deps: python-env

privileges:
	@if [ -n "$(SUDO)" ] && ! command -v sudo >/dev/null; then \
		echo "make: the testbed needs root (apt-get, network namespaces): run as root or install sudo" >&2; \
		exit 2; \
	fi

# Install only the Debian packages that are not installed yet. prosody is a Debian service:
# the testbed starts its own instances in the cloud namespace, so the system one is stopped;
# so is ser2net's (the remote-host test runs its own; a lab host runs one for its boards), and
# avahi-daemon's (the mDNS tests run theirs in a namespace on a bus of their own).
system-deps: privileges
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing="$$missing $(NODE_PACKAGES)"; fi; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		if echo "$$missing" | grep -qw prosody && [ -d /run/systemd/system ]; then \
			$(SUDO) systemctl disable --now prosody >/dev/null 2>&1 || true; \
		fi; \
		if echo "$$missing" | grep -qw ser2net && [ -d /run/systemd/system ]; then \
			$(SUDO) systemctl disable --now ser2net >/dev/null 2>&1 || true; \
		fi; \
		if echo "$$missing" | grep -qw avahi-daemon && [ -d /run/systemd/system ]; then \
			$(SUDO) systemctl disable --now avahi-daemon.socket avahi-daemon.service >/dev/null 2>&1 || true; \
		fi; \
	fi; \
	optional=$$(for p in $(OPTIONAL_DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$optional" ] && [ -z "$$missing" ]; then $(SUDO) apt-get update -qq || true; fi; \
	for p in $$optional; do \
		echo "installing optional Debian package: $$p"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$p \
			|| echo "make: optional package $$p not installed: the report's browser test will skip" >&2; \
	done

$(UV): | system-deps
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv==$(UV_VERSION)

# The Python environment comes from the lock file, exactly.
python-env: system-deps $(UV)
	@$(UV) sync --frozen --quiet

# Contiki-NG 5.0 + CMSIS 5 core headers, pinned in testbed/contiki/tree.py: from the vendored
# tarballs (sha256-checked) when CONTIKI_VENDOR holds them, else git at the pinned commits. The
# tree is unpacked once (a stamp of the pins in it) and swapped in whole; firmware builds read it.
CONTIKI_DIR ?= build/contiki-ng
CONTIKI_VENDOR ?= ../shared/vendor
contiki: python-env
	@$(PY) -m testbed.contiki.tree --dest $(CONTIKI_DIR) --vendor $(CONTIKI_VENDOR)

# The comparison: every XMPP and CoAP variant on the default topology, three times (seeds 1-3:
# the report shows each figure's spread); it prints the verdict table and where report.html
# (plots), summary.md and results.json are.
compare: deps contiki
	$(SUDO) $(PY) -m testbed.cli compare --topology topologies/default.yaml --repeat 3; status=$$?; $(OWN_BACK); exit $$status

# The lab suites run against labs/qemu.yaml: QEMU's micro:bit with the real MicroPython firmware
# (Debian packages above) plays board s1, so the MicroPython lab path runs on every machine.
TEST_LAB := --lab=labs/qemu.yaml

# MicroPython 1.27 (webassembly port, npm, pinned with its sha512 in package-lock.json): the
# suite runs the nodes' pure modules on it (nodes/common/tests/test_on_micropython.py)
MPY_WASM := tools/micropython-wasm
micropython-wasm: system-deps
	@[ -d $(MPY_WASM)/node_modules/@micropython/micropython-webassembly-pyscript ] \
		|| (cd $(MPY_WASM) && npm ci --no-audit --no-fund --silent)

test: deps contiki micropython-wasm
	$(SUDO) $(PY) -m pytest $(TEST_LAB); status=$$?; $(OWN_BACK); exit $$status

test-fast: deps contiki micropython-wasm
	$(SUDO) $(PY) -m pytest $(TEST_LAB) -m "not slow"; status=$$?; $(OWN_BACK); exit $$status

bench: deps contiki
	$(SUDO) $(PY) benchmarks/bench_codec.py
	$(SUDO) $(PY) benchmarks/bench_analysis.py
	$(SUDO) $(PY) benchmarks/bench_bringup.py
	$(SUDO) $(PY) benchmarks/bench_contiki_grid.py
	nice -n 10 $(PY) benchmarks/fuzz_parsers.py

# README.md's figures block from a fresh `make compare`-like run (tests/report/test_readme.py
# checks the block against docs/figures/results.json, the run it names)
README_RUN := build/readme-run
readme-figures: deps contiki
	rm -rf $(README_RUN)
	$(SUDO) $(PY) -m testbed.cli compare --topology topologies/default.yaml --repeat 3 --out $(README_RUN) > /dev/null; \
	status=$$?; $(OWN_BACK); [ $$status -le 1 ] || exit $$status
	$(PY) -m testbed.cli report "$$(ls -d $(README_RUN)/*/ | head -1)" --readme README.md

clean: python-env
	$(SUDO) $(PY) -m testbed.cli clean

lock: $(UV)
	$(UV) lock
