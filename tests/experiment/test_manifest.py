"""run.json says what a result needs to be reproduced: versions, seed, the topology itself.

The versions are checked against the tools' own answers, read here independently of the
module (importlib.metadata, dpkg-query, `tshark --version`, git).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testbed import __version__
from testbed.config.topology import load_topology
from testbed.experiment.manifest import collect_versions, reproduce_command
from testbed.experiment.run import Run

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "topologies" / "default.yaml"
VERSION_KEYS = {"testbed", "prosody", "scapy", "slixmpp", "aiocoap", "tshark", "libcoap", "qemu",
                "python", "kernel", "os"}


def _create(tmp_path: Path, argv: list[str], *, source: Path | None = TOPOLOGY,
            seed: int = 7) -> tuple[Run, dict]:
    run = Run.create(topology_name="default", topology_source=source, seed=seed,
                     out=tmp_path / "reports", registry=tmp_path / "registry", argv=argv)
    run.close()
    return run, json.loads(run.manifest_path.read_text())


def _debian_version(package: str) -> str | None:
    """The installed version as dpkg says it, None if the package is not installed."""
    if shutil.which("dpkg-query") is None:
        pytest.skip("not a Debian system (no dpkg-query)")
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}|${Version}", package],
                          capture_output=True, text=True, check=False)
    status, _, version = proc.stdout.partition("|")
    return version if proc.returncode == 0 and status.endswith(" installed") else None


def test_the_manifest_has_every_key(tmp_path):
    run, manifest = _create(tmp_path, ["testbed", "up", str(TOPOLOGY)])
    assert set(manifest) == {"run_id", "topology", "seed", "started", "ended", "argv",
                             "reproduce", "versions", "testbed_version", "kernel", "python",
                             "host"}
    assert set(manifest["topology"]) == {"name", "source", "sha256", "copy"}
    assert set(manifest["versions"]) == VERSION_KEYS
    assert manifest["run_id"] == run.run_id and manifest["seed"] == 7
    assert manifest["argv"] == ["testbed", "up", str(TOPOLOGY)]
    assert manifest["reproduce"] is None  # only `compare` runs are re-run from the manifest
    # the first manifests' keys stay, equal to their place in `versions`
    assert manifest["testbed_version"] == __version__
    assert manifest["kernel"] == manifest["versions"]["kernel"]
    assert manifest["python"] == manifest["versions"]["python"] == sys.version.split()[0]
    assert manifest["host"] == {"cpu_count": os.cpu_count()}


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_no_host_name_in_the_manifest(tmp_path):
    """Run directories are shared with a group or a paper: the machine's name stays home."""
    _, manifest = _create(tmp_path, ["testbed", "up", str(TOPOLOGY)])
    name = platform.node()
    words = {w for text in _strings(manifest) for w in re.findall(r"[\w.-]+", text)}
    assert name and name not in words
    assert not {"hostname", "node", "host_name"} & set(_strings(manifest))


def test_python_distributions_match_their_metadata():
    versions = collect_versions()
    for name in ("scapy", "slixmpp", "aiocoap"):
        assert versions[name] == importlib.metadata.version(name)


def test_debian_tools_match_dpkg():
    versions = collect_versions()
    expected_prosody = _debian_version("prosody") if shutil.which("prosody") else None
    expected_libcoap = (
        _debian_version("libcoap3-bin") if shutil.which("coap-client-notls") else None
    )
    assert versions["prosody"] == expected_prosody
    assert versions["libcoap"] == expected_libcoap


@pytest.mark.parametrize(("key", "argv"), [("tshark", ["tshark", "--version"]),
                                           ("qemu", ["qemu-system-arm", "--version"])])
def test_command_line_tools_give_their_first_line(key, argv):
    if shutil.which(argv[0]) is None:
        assert collect_versions()[key] is None
        return
    first = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert collect_versions()[key] == first.splitlines()[0].strip()


def test_machine_figures():
    versions = collect_versions()
    uname = os.uname()
    assert versions["kernel"] == f"{uname.sysname} {uname.release} {uname.version} " \
                                 f"{uname.machine}"
    os_release = Path("/etc/os-release")
    if os_release.is_file():
        pretty = [line.split("=", 1)[1].strip('"') for line in os_release.read_text().splitlines()
                  if line.startswith("PRETTY_NAME=")]
        assert versions["os"] == pretty[0]


def test_testbed_version_names_the_commit():
    testbed = collect_versions()["testbed"]
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        assert testbed == __version__
        return
    git = ["git", "-C", str(REPO), "-c", f"safe.directory={REPO}"]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    version, _, commit = testbed.partition("+")
    assert version == __version__
    assert commit.removesuffix("-dirty") == head
    changes = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True,
                             check=True).stdout.strip()
    assert commit.endswith("-dirty") == bool(changes)


def test_versions_are_collected_once_and_handed_out_as_copies():
    first = collect_versions()
    first["scapy"] = "tampered"
    assert collect_versions()["scapy"] == importlib.metadata.version("scapy")
    assert collect_versions() is not collect_versions()


def test_a_missing_tool_is_null_not_an_error(tmp_path):
    """PATH holds only an empty directory: every tool is missing, the manifest still comes."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    code = ("import json; from testbed.experiment.manifest import collect_versions; "
            "print(json.dumps(collect_versions()))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PATH=str(empty)), cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    versions = json.loads(proc.stdout)
    assert set(versions) == VERSION_KEYS
    for tool in ("prosody", "tshark", "libcoap", "qemu"):
        assert versions[tool] is None, tool
    assert versions["testbed"] == __version__  # no git on PATH: no commit, no error
    assert versions["scapy"] == importlib.metadata.version("scapy")


def test_the_topology_is_copied_into_the_run_directory(tmp_path):
    run, manifest = _create(tmp_path, ["testbed", "up", str(TOPOLOGY)])
    copy = run.directory / manifest["topology"]["copy"]
    assert manifest["topology"]["copy"] == "topology.yaml"
    assert copy.read_bytes() == TOPOLOGY.read_bytes()
    assert manifest["topology"]["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert manifest["topology"]["source"] == str(TOPOLOGY)
    # the copy alone describes the same network
    assert load_topology(copy).model_copy(update={"source": None}) == \
        load_topology(TOPOLOGY).model_copy(update={"source": None})


def test_without_a_topology_file_there_is_no_copy(tmp_path):
    run, manifest = _create(tmp_path, ["testbed", "compare"], source=None)
    assert manifest["topology"] == {"name": "default", "source": None, "sha256": None,
                                    "copy": None}
    assert not (run.directory / "topology.yaml").exists()
    assert manifest["reproduce"] is None


def test_a_compare_run_says_how_to_reproduce_it(tmp_path):
    argv = ["testbed", "compare", "--topology", "topologies/default.yaml", "--readings", "4",
            "--seed=3", "--variants", "coap-get,xmpp-iq", "--interval", "0.5"]
    run, manifest = _create(tmp_path, argv, seed=3)
    command = shlex.split(manifest["reproduce"])
    assert command == ["testbed", "compare", "--topology", str(run.directory / "topology.yaml"),
                       "--seed", "3", "--readings", "4", "--variants", "coap-get,xmpp-iq",
                       "--interval", "0.5"]


def test_reproduce_keeps_every_other_option_and_quotes_paths(tmp_path):
    copy = tmp_path / "run dir" / "topology.yaml"
    line = reproduce_command(["/venv/bin/testbed", "compare", "--topology=x.yaml", "--json",
                              "--out", "my reports"], topology=copy, seed=11)
    assert shlex.split(line) == ["testbed", "compare", "--topology", str(copy), "--seed", "11",
                                 "--json", "--out", "my reports"]
    assert reproduce_command(["testbed", "report", "x"], topology=copy, seed=1) is None
    assert reproduce_command(["testbed"], topology=copy, seed=1) is None
