"""`testbed doctor`: what a machine lacks and exactly what to install.

A missing tool is simulated the way a newcomer's machine has it: a PATH that does not hold it
(a directory of symlinks to everything else), not a mock of the look-up.
"""

from __future__ import annotations

import grp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from testbed.backends.netns import has_net_admin
from testbed.doctor import EXECUTABLES, FILES, Diagnosis, diagnose

REPO = Path(__file__).resolve().parents[1]
REQUIRED_PACKAGES = ["iproute2", "iputils-ping", "tshark", "prosody", "libcoap3-bin", "openssl",
                     "qemu-system-arm"]


def _path_without(tmp_path: Path, *left_out: str) -> str:
    """A PATH of symlinks to every executable doctor looks for, except `left_out`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in EXECUTABLES:
        if tool.name in left_out:
            continue
        found = shutil.which(tool.name)
        if found is None:
            if tool.required:
                pytest.skip(f"this machine lacks {tool.name} ({tool.package}) itself")
            continue
        (bin_dir / tool.name).symlink_to(found)
    return str(bin_dir)


def _cli(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "testbed.cli", "doctor", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def _failed(diagnosis: Diagnosis) -> list[str]:
    return [f"{c.name}: {c.detail} -> {c.fix}" for c in diagnosis.checks if not c.ok]


def test_without_prosody_doctor_names_the_package_and_fails(tmp_path):
    """The acceptance test: `testbed doctor` on a machine missing prosody."""
    path = _path_without(tmp_path, "prosody", "prosodyctl")
    proc = _cli(path=path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "install them with: sudo apt-get install prosody" in proc.stdout.splitlines()
    report = json.loads(_cli("--json", path=path).stdout)
    assert report["ok"] is False
    assert report["missing_packages"] == ["prosody"]  # prosody and prosodyctl: one package
    assert report["install"] == "sudo apt-get install prosody"
    failed = {c["name"]: c for c in report["checks"] if not c["ok"] and c["required"]}
    assert {"prosody", "prosodyctl"} <= set(failed)
    assert failed["prosody"]["fix"] == "sudo apt-get install prosody"
    assert "not found on PATH" in failed["prosody"]["detail"]


def test_this_machine_is_ready():
    """The development machine (root, `make deps` done) has everything."""
    if not has_net_admin():
        pytest.skip("not root: CAP_NET_ADMIN is missing by design")
    diagnosis = diagnose()
    assert diagnosis.ok, _failed(diagnosis)
    assert diagnosis.missing_packages == []


def test_json_output_parses_and_agrees_with_the_exit_status():
    proc = _cli("--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == (0 if report["ok"] else 1)
    expected = diagnose()
    assert [c["name"] for c in report["checks"]] == [c.name for c in expected.checks]
    assert report["missing_packages"] == expected.missing_packages
    assert set(report["checks"][0]) == {"name", "ok", "detail", "fix", "required", "package"}


def test_a_missing_optional_tool_does_not_fail_the_machine(tmp_path):
    full = diagnose(path=_path_without(tmp_path))
    (tmp_path / "bin").rename(tmp_path / "all")
    without = diagnose(path=_path_without(tmp_path, "chromium"))
    (chromium,) = [c for c in without.checks if c.name == "chromium"]
    assert not chromium.ok and not chromium.required
    assert chromium.fix == "sudo apt-get install chromium"
    assert without.ok == full.ok
    assert without.missing_packages == full.missing_packages
    assert without.missing_optional_packages == ["chromium"]
    if has_net_admin():
        assert without.ok, _failed(without)


@pytest.mark.parametrize("tool", [t for t in EXECUTABLES if t.required], ids=lambda t: t.name)
def test_each_missing_executable_names_its_package(tmp_path, tool):
    diagnosis = diagnose(path=_path_without(tmp_path, tool.name))
    assert not diagnosis.ok
    assert diagnosis.missing_packages == [tool.package]


def test_with_nothing_on_path_every_package_is_listed_once_in_order(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    diagnosis = diagnose(path=str(empty))
    assert diagnosis.missing_packages == REQUIRED_PACKAGES
    assert "chromium" in diagnosis.missing_optional_packages
    assert not set(diagnosis.missing_optional_packages) & set(REQUIRED_PACKAGES)


def _dpkg_owners(pattern: str) -> set[str]:
    proc = subprocess.run(["dpkg-query", "-S", pattern], capture_output=True, text=True,
                          check=False)
    return {pkg.strip().split(":")[0] for line in proc.stdout.splitlines()
            for pkg in line.split(": ", 1)[0].split(",")}


def _depends(package: str) -> set[str]:
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Pre-Depends},${Depends}", package],
                          capture_output=True, text=True, check=False)
    return {d.split()[0].split(":")[0] for d in proc.stdout.replace("|", ",").split(",")
            if d.strip()}


def _installed(package: str) -> bool:
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True,
                          text=True, check=False)
    return proc.stdout.endswith(" installed")


@pytest.mark.parametrize("tool", [*EXECUTABLES, *FILES], ids=lambda t: t.name)
def test_the_named_package_provides_the_tool(tool):
    """The table's package names are Debian's: dpkg says who owns each file (the package
    itself, or for a metapackage such as python3-venv, one it depends on)."""
    if shutil.which("dpkg-query") is None:
        pytest.skip("not a Debian system")
    if not _installed(tool.package):
        pytest.skip(f"{tool.package} not installed here")
    if tool.path is not None:
        (found,) = sorted(Path("/").glob(tool.path.lstrip("/")))[:1]
        owners = _dpkg_owners(str(found))
    else:
        # /usr/bin/nc is an alternative of /bin/nc.openbsd: ask for both names
        found = shutil.which(tool.name, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                             "/usr/bin:/sbin:/bin")
        names = {tool.name, os.path.basename(os.path.realpath(found))}
        owners = set().union(*(_dpkg_owners(f"*bin/{name}") for name in names))
    assert tool.package in owners or owners & _depends(tool.package), (tool, owners)


def test_serial_ports_are_listed_with_their_rights(tmp_path):
    port = tmp_path / "ttyACM7"
    port.write_text("")
    diagnosis = diagnose(serial_globs=(str(tmp_path / "ttyACM*"), str(tmp_path / "ttyUSB*")))
    (serial,) = [c for c in diagnosis.checks if c.name == "serial ports"]
    assert not serial.required
    assert str(port) in serial.detail
    assert serial.ok == os.access(port, os.R_OK | os.W_OK)


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


def test_a_plain_user_is_told_to_become_root_and_join_dialout():
    """Run as user nobody: no CAP_NET_ADMIN, /run/testbed not writable, a dialout port out of
    reach; doctor says so with the fixes, and fails though no package is missing."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root to switch to user nobody (setpriv)")
    try:
        dialout = grp.getgrnam("dialout").gr_gid
    except KeyError:
        pytest.skip("no group dialout here")
    directory = Path(tempfile.mkdtemp(prefix="testbed-doctor-"))
    try:
        directory.chmod(0o755)
        port = directory / "ttyUSB3"
        port.write_text("")
        os.chown(port, 0, dialout)
        port.chmod(0o660)
        code = ("import json; from testbed.doctor import diagnose; "
                f"print(json.dumps(diagnose(serial_globs=[{str(directory / 'tty*')!r}])"
                ".to_json()))")
        env = {k: v for k, v in os.environ.items() if k != "TESTBED_REGISTRY"}
        proc = subprocess.run([*NOBODY, sys.executable, "-c", code], cwd=directory, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0 and "Permission denied" in proc.stderr:
            pytest.skip(f"user nobody cannot run {sys.executable}: {proc.stderr.strip()[-200:]}")
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
    finally:
        shutil.rmtree(directory)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is False
    assert checks["CAP_NET_ADMIN"]["ok"] is False
    assert checks["CAP_NET_ADMIN"]["fix"].startswith("run as root: sudo testbed")
    if not os.access("/run/testbed", os.W_OK) or os.stat("/run/testbed").st_uid == 0:
        assert checks["run registry"]["ok"] is False
        assert "TESTBED_REGISTRY" in checks["run registry"]["fix"]
    serial = checks["serial ports"]
    assert serial["ok"] is False and serial["required"] is False
    assert f"{port} (-rw-rw---- root:dialout, no access)" in serial["detail"]
    assert serial["fix"].startswith("add yourself to group dialout")
