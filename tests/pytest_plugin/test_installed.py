"""Acceptance: a user suite outside the repository (a temp dir with its own test file and
topology, no conftest) gets the fixtures just by installing the package, and runs with
--junitxml.

The package is installed NOT editable into a fresh venv, so the test proves that the wheel
carries the plugin (its `pytest11` entry point) and the data files a run needs (the node
firmware). The dependencies are exactly the lock's (`uv sync --frozen --no-install-project`
into that venv: the lock's own URLs and hashes), then the project itself with
`uv pip install --no-deps`. Both may use the registry the lock names, as `make` does: a fresh
machine's uv cache holds the wheels `uv sync` fetched but not the registry's index pages, so an
`--offline` install that resolves names (`uv pip sync` of an exported list) fails there even
though every wheel is cached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from testbed.backends.netns import has_net_admin

REPO = Path(__file__).resolve().parents[2]
UV = REPO / ".tools" / "bin" / "uv"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not has_net_admin(), reason="needs CAP_NET_ADMIN (root)"),
    pytest.mark.skipif(not UV.is_file(), reason=f"no {UV} (make installs it)"),
]

TOPOLOGY = """\
name: lab-pair
nodes:
  br: {role: border-router}
  s1: {role: sensor}
links:
  - [br, s1]
"""

SUITE = '''
import testbed


def test_the_plugin_comes_from_the_installed_package():
    assert "site-packages" in testbed.__file__, testbed.__file__


def test_every_reading_arrives(testbed, variant, node, results):
    readings = testbed.result(variant).readings
    assert readings.delivered == readings.sent == 2
    assert [e["seq"] for e in node("s1").events if e.kind == "reading"] == [1, 2]
    results.record("s1_readings", len(node("s1").events), unit="events")
'''


def _uv(*args: str, cwd: Path | None = None, **env: str) -> str:
    done = subprocess.run([str(UV), *args], capture_output=True, text=True, cwd=cwd, timeout=600,
                          env={**os.environ, "UV_NO_PROGRESS": "1", **env})
    assert done.returncode == 0, f"uv {' '.join(args)}:\n{done.stderr}"
    return done.stdout


def test_a_suite_outside_the_repo_runs_on_the_installed_package(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    # make exports UV_PROJECT_ENVIRONMENT=.venv: without this override the sync below would
    # strip the project's own environment of its dev group
    _uv("sync", "--project", str(REPO), "--frozen", "--no-dev", "--no-install-project", "--quiet",
        "--python", sys.executable, UV_PROJECT_ENVIRONMENT=str(venv))
    _uv("pip", "install", "--quiet", "--no-deps", "--python", str(python), str(REPO))

    suite = tmp_path / "lab-suite"
    suite.mkdir()
    (suite / "topology.yaml").write_text(TOPOLOGY)
    (suite / "test_lab.py").write_text(SUITE)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "GITHUB_STEP_SUMMARY", "VIRTUAL_ENV")}
    done = subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "--junitxml", "out.xml",
         "--topology", "topology.yaml", "--readings", "2", "--variants", "coap-observe-non",
         "--report-dir", "runs"],
        cwd=suite, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout

    root = ET.parse(suite / "out.xml").getroot()
    suite_props = {p.get("name"): p.get("value") for p in root.find("testsuite/properties")}
    assert suite_props["topology"] == "lab-pair" and Path(suite_props["run_dir"]).is_dir()
    case = next(c for c in root.iter("testcase") if c.get("name").startswith("test_every_reading"))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["variant"] == "coap-observe-non"
    assert props["delivered"] == props["sent"] == "2"
    assert int(props["s1_readings"]) >= 2
    # the headline figures are the run's own (results.json, in the report's words)
    run = json.loads((Path(suite_props["run_dir"]) / "results.json").read_text())
    v = run["variants"]["coap-observe-non"]
    expected = {
        "steady_bytes_per_reading": v["air"]["per_reading"]["bytes"],
        "all_in_bytes_per_reading": v["air"]["total_bytes"] / v["readings"]["delivered"],
        "frames_per_reading": v["air"]["per_reading"]["frames"],
        "setup_bytes": v["air"]["setup"]["bytes"],
        "latency_p50_ms": v["readings"]["latency_ms"]["p50"],
        "energy_mj_per_reading": v["energy"]["per_reading_mj"]["protocol"],
    }
    for name, value in expected.items():  # properties are rounded to 6 decimals
        assert float(props[name]) == pytest.approx(value, abs=1e-6), name
