"""What this machine lacks to run the testbed, and exactly what to install.

`diagnose()` looks, without changing anything, at the executables the testbed and its
oracles run (each named with the Debian package that provides it, the Makefile's
DEBIAN_PACKAGES), the files it loads (the micro:bit MicroPython firmware), the privileges
it needs (CAP_NET_ADMIN, /dev/net/tun, the run registry), the Python packages of the
environment and the serial ports of real boards. Every check is a look-up (PATH, a file's
mode, an import spec); nothing is run, so the whole diagnosis takes milliseconds.

Required checks decide `Diagnosis.ok` (`testbed doctor` exits 1 without them); optional ones
(the Arm toolchain, chromium, serial ports) only say what a feature would need.
"""

from __future__ import annotations

import glob
import grp
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import stat
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from testbed.backends.netns import has_net_admin
from testbed.backends.qemu import FIRMWARE
from testbed.experiment.run import REGISTRY_ENV, registry_dir

__all__ = ["Check", "Diagnosis", "EXECUTABLES", "FILES", "PYTHON_MODULES", "Tool", "diagnose"]

PYTHON_FIX = "make deps (or: uv sync --frozen)"


@dataclass(frozen=True)
class Check:
    """One thing looked at: what it is, whether it is fine, and the way out if not.

    `package` is the Debian package that provides it (None for what apt cannot install).
    """

    name: str
    ok: bool
    detail: str
    fix: str | None
    required: bool
    package: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    """Every check, in the order `testbed doctor` shows them (required ones first)."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """Every required check passed (optional ones may fail)."""
        return all(check.ok for check in self.checks if check.required)

    @property
    def missing_packages(self) -> list[str]:
        """Debian packages to apt-get install for the required checks that failed, in order."""
        return _packages(c for c in self.checks if c.required and not c.ok)

    @property
    def missing_optional_packages(self) -> list[str]:
        """Debian packages only optional features lack (chromium, the Arm toolchain ...)."""
        required = set(self.missing_packages)
        return [p for p in _packages(c for c in self.checks if not c.required and not c.ok)
                if p not in required]

    def to_json(self) -> dict[str, object]:
        missing = self.missing_packages
        return {
            "ok": self.ok,
            "missing_packages": missing,
            "install": f"sudo apt-get install {' '.join(missing)}" if missing else None,
            "missing_optional_packages": self.missing_optional_packages,
            "checks": [asdict(check) for check in self.checks],
        }


def _packages(checks: Iterable[Check]) -> list[str]:
    packages: list[str] = []
    for check in checks:
        if check.package and check.package not in packages:
            packages.append(check.package)
    return packages


@dataclass(frozen=True, slots=True)
class Tool:
    """Something the testbed needs from a Debian package: an executable `name` looked up on
    PATH or, with `path`, a file (a glob pattern: the first match will do)."""

    name: str
    package: str
    why: str
    required: bool = True
    path: str | None = None


# What provides what was read with `dpkg -L <package>` on Debian 12 (bookworm).
EXECUTABLES: tuple[Tool, ...] = (
    Tool("ip", "iproute2", "namespaces, TAPs, veths and routes"),
    Tool("ping", "iputils-ping", "`testbed pingall`: every node reaches the cloud"),
    Tool("tshark", "tshark", "the independent dissector every capture is checked against"),
    Tool("prosody", "prosody", "the XMPP server of the xmpp-* variants"),
    Tool("prosodyctl", "prosody", "prosody's control tool"),
    Tool("coap-client-notls", "libcoap3-bin", "libcoap's CoAP client, the CoAP oracle"),
    Tool("openssl", "openssl", "the certificate of the XMPP TLS variant"),
    Tool("qemu-system-arm", "qemu-system-arm", "QEMU's micro:bit running real MicroPython"),
    Tool("arm-none-eabi-size", "binutils-arm-none-eabi",
         "ROM/RAM of firmware ELFs cross-checked", required=False),
    Tool("arm-none-eabi-gcc", "gcc-arm-none-eabi", "builds the test ELF of the memory checks",
         required=False),
    Tool("chromium", "chromium", "report screenshots and the report's browser test",
         required=False),
    Tool("chromedriver", "chromium-driver", "the report's browser test (selenium)",
         required=False),
    Tool("nc", "netcat-openbsd", "poking at a node's ports by hand", required=False),
    Tool("ps", "procps", "looking for processes a killed run left", required=False),
    Tool("python3", "python3", "`make` bootstraps uv with it", required=False),
)
FILES: tuple[Tool, ...] = (
    Tool("micro:bit MicroPython firmware", "firmware-microbit-micropython",
         "what QEMU's micro:bit boots", path=str(FIRMWARE)),
    Tool("newlib", "libnewlib-arm-none-eabi", "the Arm toolchain's C library", required=False,
         path="/usr/lib/arm-none-eabi/newlib/libc.a"),
    Tool("python3 venv module", "python3-venv", "`make` makes the venv that holds uv with it",
         required=False, path="/usr/lib/python3*/ensurepip/__init__.py"),
)
# import name -> distribution name (what the lock file pins)
PYTHON_MODULES: dict[str, str] = {
    "scapy": "scapy", "slixmpp": "slixmpp", "aiocoap": "aiocoap", "serial": "pyserial",
    "matplotlib": "matplotlib", "jinja2": "jinja2",
}


def _install(package: str) -> str:
    return f"sudo apt-get install {package}"


def _executable(tool: Tool, path: str | None) -> Check:
    found = shutil.which(tool.name, path=path)
    detail = found if found else f"not found on PATH ({tool.why})"
    return Check(name=tool.name, ok=found is not None, detail=detail,
                 fix=None if found else _install(tool.package), required=tool.required,
                 package=tool.package)


def _file(tool: Tool) -> Check:
    found = sorted(glob.glob(tool.path or ""))
    detail = found[0] if found else f"{tool.path} missing ({tool.why})"
    return Check(name=tool.name, ok=bool(found), detail=detail,
                 fix=None if found else _install(tool.package), required=tool.required,
                 package=tool.package)


def _mode(path: Path) -> str:
    """`crw-rw---- root:dialout`, as ls -l shows it."""
    info = path.stat()
    try:
        user = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        user = str(info.st_uid)
    return f"{stat.filemode(info.st_mode)} {user}:{_group(info.st_gid)}"


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _net_admin() -> Check:
    if has_net_admin():
        return Check("CAP_NET_ADMIN", True, "held: network namespaces can be made", None, True)
    return Check(
        "CAP_NET_ADMIN", False,
        "not held: `compare`, `pingall` and the emulated network need it (`testbed up` alone "
        "can fall back on an unprivileged user namespace)",
        "run as root: sudo testbed ...", True,
    )


def _tun(net_admin: bool) -> list[Check]:
    tun = Path("/dev/net/tun")
    try:
        is_device = stat.S_ISCHR(tun.stat().st_mode)
    except OSError:
        is_device = False
    if not is_device:
        return [Check("/dev/net/tun", False, "missing: the radio's TAP devices need it",
                      "sudo modprobe tun", True)]
    mode = _mode(tun)
    present = Check("/dev/net/tun", True, mode, None, True)
    world = tun.stat().st_mode & 0o006 == 0o006
    if world:
        userns = Check("/dev/net/tun for user namespaces", True,
                       "world read-writable: unprivileged mode can open TAPs", None, False)
    else:
        userns = Check(
            "/dev/net/tun for user namespaces", net_admin,
            f"{mode}: " + ("fine as root; " if net_admin else "")
            + "unprivileged user-namespace mode needs it world read-writable (0666)",
            None if net_admin else "sudo chmod 0666 /dev/net/tun (udev usually does)", False,
        )
    return [present, userns]


def _registry() -> Check:
    directory = registry_dir()
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    writable = existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)
    where = (f"{directory}" if existing == directory
             else f"{existing} (where {directory} will be made)")
    return Check(
        "run registry", writable,
        f"{where} is " + ("writable" if writable else "not writable")
        + ": live runs are listed there so `testbed clean` removes exactly theirs",
        None if writable else f"run as root (sudo testbed ...), or set ${REGISTRY_ENV} to a "
        "writable directory", True,
    )


def _python_module(module: str, distribution: str) -> Check:
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return Check(f"python: {module}", False, f"{distribution} is not importable",
                     PYTHON_FIX, True)
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        version = "version unknown"
    return Check(f"python: {module}", True, f"{distribution} {version}", None, True)


def _serial_ports(patterns: Sequence[str]) -> Check:
    ports = sorted({p for pattern in patterns for p in glob.glob(pattern)})
    if not ports:
        return Check("serial ports", True,
                     f"none ({', '.join(patterns)}): only real boards need one; QEMU's "
                     "micro:bit uses a pty", None, False)
    details, blocked = [], []
    for port in ports:
        try:
            mode, gid = _mode(Path(port)), os.stat(port).st_gid
        except OSError:
            continue  # unplugged while we looked
        usable = os.access(port, os.R_OK | os.W_OK)
        details.append(f"{port} ({mode}, {'usable' if usable else 'no access'})")
        if not usable:
            blocked.append(_group(gid))
    fix = None
    if blocked:
        groups = ",".join(dict.fromkeys(blocked))
        fix = f"add yourself to group {groups}: sudo usermod -aG {groups} $USER, then log in again"
    return Check("serial ports", not blocked, "; ".join(details), fix, False)


def diagnose(
    *, path: str | None = None, serial_globs: Sequence[str] = ("/dev/ttyACM*", "/dev/ttyUSB*"),
) -> Diagnosis:
    """Look at this machine; `path` replaces $PATH for finding executables."""
    checks = [_executable(t, path) for t in EXECUTABLES if t.required]
    checks.extend(_file(t) for t in FILES if t.required)
    net_admin = _net_admin()
    checks.append(net_admin)
    checks.extend(_tun(net_admin.ok))
    checks.append(_registry())
    checks.extend(_python_module(m, d) for m, d in PYTHON_MODULES.items())
    checks.extend(_executable(t, path) for t in EXECUTABLES if not t.required)
    checks.extend(_file(t) for t in FILES if not t.required)
    checks.append(_serial_ports(serial_globs))
    return Diagnosis(tuple(checks))
