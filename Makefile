# Two commands for a newcomer on Debian/Ubuntu: `make compare` and `make test`.
# Each installs what is missing (Debian packages, then the Python environment from
# uv.lock) and then runs. Needs root or sudo for apt-get and for network namespaces.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian packages the testbed runs with, in one list.
DEBIAN_PACKAGES := python3 python3-venv iproute2 iputils-ping tshark netcat-openbsd procps prosody libcoap3-bin openssl
UV_VERSION := 0.13.8

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help deps system-deps python-env compare test test-fast bench clean lock

help:
	@echo "make compare   install what is missing, run the XMPP-vs-CoAP comparison on the emulated testbed"
	@echo "make test      install what is missing, run the test suite (slow end-to-end runs included)"
	@echo "make bench     run the benchmarks (codec vs scapy, bring-up of 50/100-node grids)"
	@echo "make clean     remove namespaces, TAPs and processes a killed run left behind"

deps: system-deps python-env

# Install only the Debian packages that are not installed yet.
system-deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv==$(UV_VERSION)

# The Python environment comes from the lock file, exactly.
python-env: $(UV)
	@$(UV) sync --frozen --quiet

# Until the XMPP/CoAP nodes land (issue 02), the comparison job proves the emulated testbed
# end to end: every node of the default topology reaches the cloud over the modelled air.
compare: deps
	$(SUDO) $(PY) -m testbed.cli pingall topologies/default.yaml

test: deps
	$(SUDO) $(PY) -m pytest

test-fast: deps
	$(SUDO) $(PY) -m pytest -m "not slow"

bench: deps
	$(SUDO) $(PY) benchmarks/bench_codec.py
	$(SUDO) $(PY) benchmarks/bench_bringup.py

clean: python-env
	$(SUDO) $(PY) -m testbed.cli clean

lock: $(UV)
	$(UV) lock
