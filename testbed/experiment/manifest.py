"""The run manifest (`run.json`): what a result needs to be reproduced.

A figure in results.json is only worth what one can say about where it came from: which
code (project version and git commit, `-dirty` when the checkout had changes), which tools
(prosody, tshark, libcoap, QEMU, scapy, slixmpp, aiocoap), which machine (kernel, OS, CPU
count; never the host name), which seed and which topology. The topology file is copied into
the run directory, so the run directory alone is enough to run the comparison again
(`reproduce`).

Versions are collected once per process (tests create hundreds of runs), by a few short
subprocesses run side by side: argv lists, a timeout each, never a shell. A tool that is
not installed is `null`, never an error.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import importlib.metadata
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from testbed import __version__

__all__ = ["TOPOLOGY_COPY", "collect_versions", "copy_topology", "new_manifest",
           "reproduce_command"]

TOPOLOGY_COPY = "topology.yaml"  # the topology, as the run used it, inside the run directory
TIMEOUT_S = 5.0  # per version probe; a hung tool costs this much once per process
# Debian package -> an executable it provides: the package's version counts only when the
# executable is on PATH (what the run would have used).
DEBIAN_TOOLS = {"prosody": "prosody", "libcoap3-bin": "coap-client-notls"}
PYTHON_DISTRIBUTIONS = ("scapy", "slixmpp", "aiocoap")
CHECKOUT = Path(__file__).resolve().parents[2]  # the git checkout, when the package lives in one


def _output(argv: Sequence[str]) -> str | None:
    """stdout of `argv` (a successful exit), or None if it is missing, fails or hangs."""
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
            stdin=subprocess.DEVNULL, env=dict(os.environ, LC_ALL="C"),
        )
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def _first_line(argv: Sequence[str]) -> str | None:
    """The first line of `argv`'s output (`tshark --version`), None if the tool is absent."""
    if shutil.which(argv[0]) is None:
        return None
    text = _output(argv)
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else None


def _debian_versions() -> dict[str, str | None]:
    """Installed version of each package of DEBIAN_TOOLS whose executable is on PATH.

    dpkg-query answers in milliseconds; `prosodyctl about` takes a Lua start-up and prints
    warnings about optional Lua modules first, and `prosody --version` starts a server.
    """
    versions: dict[str, str | None] = dict.fromkeys(DEBIAN_TOOLS)
    wanted = [pkg for pkg, exe in DEBIAN_TOOLS.items() if shutil.which(exe)]
    if not wanted or shutil.which("dpkg-query") is None:
        return versions
    try:
        proc = subprocess.run(  # exit status 1 when one package is unknown: read what it said
            ["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\t${Version}\n", *wanted],
            capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return versions
    for line in proc.stdout.splitlines():
        package, status, version = (line.split("\t") + ["", ""])[:3]
        if package in versions and status.startswith("ii") and version:
            versions[package] = version
    return versions


def _git_commit() -> str | None:
    """`<short hash>` or `<short hash>-dirty` of the checkout holding the package, if any."""
    if not (CHECKOUT / ".git").exists() or shutil.which("git") is None:
        return None
    # safe.directory: root (sudo make compare) reading a user's checkout; --no-optional-locks:
    # `status` must not rewrite the index as root
    git = ["git", "--no-optional-locks", "-C", str(CHECKOUT), "-c", f"safe.directory={CHECKOUT}"]
    head = _output([*git, "rev-parse", "--short", "HEAD"])
    if not head or not head.strip():
        return None
    status = _output([*git, "status", "--porcelain"])
    return head.strip() + ("-dirty" if status is None or status.strip() else "")


def _distribution(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _os_name() -> str | None:
    """PRETTY_NAME of os-release(5)."""
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        match = re.search(r'^PRETTY_NAME=(.*)$', text, re.MULTILINE)
        if match:
            value = match.group(1).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            return value or None
    return None


def kernel() -> str:
    """`uname -srvm`: system, release, version, machine."""
    uname = platform.uname()
    return f"{uname.system} {uname.release} {uname.version} {uname.machine}"


@functools.cache
def _collect() -> tuple[tuple[str, str | None], ...]:
    with ThreadPoolExecutor(max_workers=4) as pool:  # tshark alone takes ~0.4 s to start
        tshark = pool.submit(_first_line, ["tshark", "--version"])
        qemu = pool.submit(_first_line, ["qemu-system-arm", "--version"])
        debian = pool.submit(_debian_versions)
        commit = pool.submit(_git_commit)
        packages = debian.result()
        versions: dict[str, str | None] = {
            "testbed": __version__ + (f"+{commit.result()}" if commit.result() else ""),
            "prosody": packages["prosody"],
            **{name: _distribution(name) for name in PYTHON_DISTRIBUTIONS},
            "tshark": tshark.result(),
            "libcoap": packages["libcoap3-bin"],
            "qemu": qemu.result(),
            "python": sys.version.split()[0],
            "kernel": kernel(),
            "os": _os_name(),
        }
    return tuple(versions.items())


def collect_versions() -> dict[str, str | None]:
    """Versions of the project and of every tool a run uses; None for what is not installed.

    Collected once per process (the answer is cached); each call returns a fresh dict.
    """
    return dict(_collect())


def copy_topology(source: str | Path | None, directory: Path) -> dict[str, str | None]:
    """Copy the topology file into the run directory; its manifest entry (without the name).

    The hash is of the bytes copied, so `sha256sum <run>/topology.yaml` checks the copy.
    """
    path = Path(source).resolve() if source else None
    if path is None or not path.is_file():
        return {"source": str(path) if path else None, "sha256": None, "copy": None}
    data = path.read_bytes()
    (directory / TOPOLOGY_COPY).write_bytes(data)
    return {"source": str(path), "sha256": hashlib.sha256(data).hexdigest(),
            "copy": TOPOLOGY_COPY}


# `compare` options the reproduction sets itself (and each option's other spellings)
_REPLACED = ("--topology", "--seed")


def reproduce_command(argv: Sequence[str], *, topology: Path | None, seed: int) -> str | None:
    """The command that runs a `testbed compare` again with its seed and copied topology.

    None for any other command, or when there is no topology copy to point at.
    """
    if len(argv) < 2 or argv[1] != "compare" or topology is None:
        return None
    rest: list[str] = []
    args = iter(argv[2:])
    for arg in args:
        option = arg.split("=", 1)[0]
        if option in _REPLACED:
            if "=" not in arg:
                next(args, None)  # the option's value
            continue
        rest.append(arg)
    return shlex.join(
        ["testbed", "compare", "--topology", str(topology), "--seed", str(seed), *rest]
    )


def new_manifest(
    *,
    run_id: str,
    directory: Path,
    topology_name: str,
    topology_source: str | Path | None,
    seed: int,
    started: _dt.datetime,
    argv: Sequence[str],
) -> dict[str, object]:
    """run.json's content at the start of a run (`ended` is filled in by `Run.finish`)."""
    topology = {"name": topology_name, **copy_topology(topology_source, directory)}
    copy = directory / TOPOLOGY_COPY if topology["copy"] else None
    versions = collect_versions()
    return {
        "run_id": run_id,
        "topology": topology,
        "seed": seed,
        "started": started.isoformat(timespec="seconds"),
        "ended": None,
        "argv": list(argv),
        "reproduce": reproduce_command(argv, topology=copy, seed=seed),
        "versions": versions,
        # the first manifests' keys, kept for readers written against them
        "testbed_version": __version__,
        "kernel": versions["kernel"],
        "python": versions["python"],
        "host": {"cpu_count": os.cpu_count()},  # no host name: run directories get shared
    }
