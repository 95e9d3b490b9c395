"""Build one Contiki-NG app for one target with Contiki's own make, cached by content.

What it is: `build_firmware(app, target, options)` runs `make -C <app> TARGET=... BUILD_DIR=...
CONTIKI=<the pinned tree>` (argv only) and returns the ELF, the GNU ld map (-Wl,-Map through
LDFLAGS, which Contiki's makefiles append to) and the object folder with -fstack-usage's .su
files. What it is not: the tree (tree.py), memory figures (testbed/memory/), running a node.

Why this cache: Contiki's make tracks headers (.d files) but not compiler flags, so each set of
options (macros, make variables, target, Contiki pin) gets its own BUILD_DIR,
build/firmware/<app>/<target>/<options hash>/, and inside it a stamp of the hash of every source
file of the app and of nodes/contiki/ (common, lib, platform). Same stamp: nothing runs. Other
stamp: make runs again in the same folder (objects rebuilt as make sees fit; the ELF is removed
first so that a module taken out of the Makefile is relinked without it).

Options reach make's recipes, which run in a shell: names and values are checked against a
plain character set (identifiers, numbers, paths) and anything else is refused.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from testbed.backends.processes import dies_with_parent
from testbed.config.lab import MAKE_RESERVED, Board
from testbed.contiki.tree import STAMP as TREE_STAMP
from testbed.errors import BadInput, TestbedError
from testbed.firmware import nodes_dir
from testbed.jsonlines import write_json_atomic

CHECKOUT = Path(__file__).resolve().parents[2]
CONTIKI_DIR = CHECKOUT / "build" / "contiki-ng"
FIRMWARE_DIR = CHECKOUT / "build" / "firmware"
#: what Contiki's `git describe` says in a clone at the pinned commit (the tree has no .git)
RELSTR = "release/v5.0"
MAKE_JOBS = 2
CACHE_VERSION = "1"


class Target(StrEnum):
    """Targets the testbed builds for: the emulated medium's platform (out of tree), Contiki's
    Linux-hosted native, and two CC2538 boards (Cortex-M3, 512 KB flash, 32 KB RAM, 802.15.4)."""

    MEDIUM = "medium"
    NATIVE = "native"
    CC2538DK = "cc2538dk"
    ZOUL = "zoul"


class BuildError(BadInput):
    """Contiki's make failed: the app, the target, the compiler's first error line, the log."""


#: make variables the build sets itself (an option may not change where things are)
RESERVED = MAKE_RESERVED  # the lab file refuses them too (config/lab.py)
_MACRO = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_VARIABLE = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_VALUE = re.compile(r"[A-Za-z0-9_.+/-]*\Z")
_MAKE_VALUE = re.compile(r"[A-Za-z0-9_.+/ -]*\Z")  # a list: XMPP_MODULES="plain message"
_CONFIG_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,39}\Z")
CONFIG_HEADER = "testbed-node-config.h"


def c_string(text: str) -> str:
    """`text` as a C string literal: every byte outside printable ASCII as an octal escape
    (three digits, so no following digit can extend it), quotes and backslashes escaped, and
    `?` escaped against trigraphs."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\?':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def config_header_text(config: Mapping[str, str]) -> str:
    """The header that compiles a node's configuration in (node-config.c reads the macros)."""
    lines = ["/* Written by testbed/contiki/build.py: this node's configuration. */",
             "#define NODE_CONFIG_CONF_FROM_ENV 0"]
    lines += [f"#define TESTBED_{key} {c_string(str(value))}"
              for key, value in sorted(config.items())]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BuildOptions:
    """Compile-time options of one firmware, all part of its cache key.

    defines: project-conf macros (`-DNAME=value`; a project-conf.h gives its defaults under
    `#ifndef NAME`). make: make variables on make's command line (MAKE_WITH_..., BOARD=...).
    stack_usage: -fstack-usage and -fcallgraph-info=su (.su and .ci files beside the objects,
    for testbed/memory/stack.py); they do not change the code."""

    defines: Mapping[str, str] = field(default_factory=dict)
    make: Mapping[str, str] = field(default_factory=dict)
    stack_usage: bool = True
    #: a node's configuration compiled in, as a board carries it (nodes/contiki/common/
    #: node-config.h): key -> value, written as `#define TESTBED_<KEY> "value"` into a header
    #: every file includes (`config_header`). Values may hold anything (a password): they
    #: never reach make's command line or a shell, only that 0600 header; the cache key has
    #: their hash.
    config: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in self.defines.items():
            if not _MACRO.match(name) or not _VALUE.match(str(value)):
                raise BadInput(f"option -D{name}={value}: a macro is a C identifier and its "
                               "value letters, digits and _.+/- only")
        for name, value in self.make.items():
            if not _VARIABLE.match(name) or not _MAKE_VALUE.match(str(value)):
                raise BadInput(f"option {name}={value}: a make variable is upper-case and its "
                               "value letters, digits, spaces and _.+/- only")
            if name in RESERVED:
                raise BadInput(f"option {name}={value}: {name} is set by the build itself")
        for key, value in self.config.items():
            if not _CONFIG_KEY.match(key):
                raise BadInput(f"config {key}: a configuration key is upper-case letters, "
                               "digits and _ (the manifest's key in upper case)")
            if "\0" in str(value):
                raise BadInput(f"config {key}: a value cannot hold a NUL byte")

    def key_lines(self) -> list[str]:
        lines = ([f"-D{k}={v}" for k, v in sorted(self.defines.items())]
                 + [f"{k}={v}" for k, v in sorted(self.make.items())]
                 + [f"stack_usage={self.stack_usage}"])
        if self.config:
            lines.append("config=" + hashlib.sha256(config_header_text(self.config).encode())
                         .hexdigest())
        return lines


@dataclass(frozen=True, slots=True)
class Firmware:
    """A built image. `objects`: the folder of its .o files (and .su/.ci with stack_usage;
    .deps/ names each object's source). `cached`: no make ran for this call."""

    app: str
    target: Target
    source: Path  # the app's folder
    contiki: Path  # the tree it was built with
    shared: Path  # the nodes/contiki/ it was built with
    elf: Path
    map: Path
    objects: Path
    build_dir: Path
    sources_hash: str
    cached: bool
    seconds: float


# --- where things are -----------------------------------------------------------------------

def app_dir(app: str | Path) -> Path:
    """An app of nodes/contiki/ by name, or any Contiki app folder by path."""
    if isinstance(app, Path) or "/" in str(app):
        return Path(app).resolve()
    return (nodes_dir() / "contiki" / str(app)).resolve()


def shared_dir() -> Path:
    """nodes/contiki/: what the apps share (common/, lib/) and the platforms (platform/)."""
    return nodes_dir().resolve() / "contiki"


def platform_dir(shared: Path | None = None) -> Path:
    """TARGETDIRS for the out-of-tree platforms (nodes/contiki/platform/<target>/)."""
    return (shared or shared_dir()) / "platform"


def _source_files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if "build" in rel or "__pycache__" in rel or any(p.startswith(".") for p in rel):
            continue  # build outputs (Contiki's examples may hold a build/ of their own)
        if path.is_file():
            yield path


def sources_hash(app: Path, shared: Path | None = None) -> str:
    """sha256 over the path and bytes of every file of the app and of nodes/contiki/'s
    common, lib and platform folders."""
    digest = hashlib.sha256()
    shared = shared or shared_dir()
    roots = [("app", app)] + [(name, shared / name) for name in ("common", "lib", "platform")]
    for label, root in roots:
        for path in _source_files(root):
            digest.update(f"{label}/{path.relative_to(root)}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


#: the compiler Contiki's makefiles use for a target
COMPILERS = {Target.CC2538DK: "arm-none-eabi-gcc", Target.ZOUL: "arm-none-eabi-gcc",
             Target.NATIVE: "gcc", Target.MEDIUM: "gcc"}


def compiler_version(target: Target) -> str:
    """`<compiler> --version`'s first line: a new compiler is a new build (and new figures)."""
    try:
        done = subprocess.run([COMPILERS[target], "--version"], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return f"{COMPILERS[target]}: not found"  # make will say so in its own words
    return (done.stdout.splitlines() or [""])[0]


def options_hash(app: Path, target: Target, project: str, options: BuildOptions,
                 contiki: Path) -> str:
    """What selects the BUILD_DIR: everything that changes the compile but not a file."""
    stamp = contiki / TREE_STAMP
    tree = stamp.read_text() if stamp.is_file() else f"unstamped tree {contiki}"
    lines = [f"v{CACHE_VERSION}", str(app), str(target), project, tree, RELSTR,
             compiler_version(target), *options.key_lines(),
             "CFLAGS=" + " ".join(compile_flags(options))]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


# --- the build ------------------------------------------------------------------------------

def build_firmware(app: str | Path, target: Target | str, options: BuildOptions | None = None,
                   *, project: str | None = None, contiki: Path | None = None,
                   out: Path | None = None, shared: Path | None = None) -> Firmware:
    """The firmware of `app` for `target`, built now or taken from the cache.

    project: the Makefile's CONTIKI_PROJECT to build (default: the app folder's name).
    contiki, out, shared: the tree, the firmware folder and nodes/contiki/ when not the
    checkout's (tests build apps of their own)."""
    started = time.monotonic()
    options = options or BuildOptions()
    try:
        target = Target(target)
    except ValueError:
        raise BadInput(f"target {target!r}: expected one of "
                       f"{', '.join(t.value for t in Target)}") from None
    source = app_dir(app)
    name = source.name
    if not (source / "Makefile").is_file():
        raise BadInput(f"{source}: no Makefile (a Contiki app folder has one)")
    project = project or name
    contiki = (contiki or CONTIKI_DIR).resolve()
    if not (contiki / "Makefile.include").is_file():
        raise BadInput(f"{contiki}: no Contiki-NG tree (make contiki)")
    shared = (shared or shared_dir()).resolve()
    key = options_hash(source, target, project, options, contiki)
    folder = (out or FIRMWARE_DIR) / name / target.value / key[:16]
    build = folder / "build"
    map_path = folder / f"{project}.map"
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / ".lock"):
        hashed = sources_hash(source, shared)
        stamp = folder / ".sources"
        elf = _find_elf(build, project, target)
        if elf and map_path.is_file() and stamp.is_file() and stamp.read_text() == hashed:
            return Firmware(name, target, source, contiki, shared, elf, map_path,
                            elf.parent / "obj", build, hashed, cached=True,
                            seconds=time.monotonic() - started)
        stamp.unlink(missing_ok=True)
        # From scratch: make tracks headers, not Makefiles or the -D flags that modules add
        # (BUILD_WITH_SHELL...): a module taken out of a Makefile left contiki-main.o calling
        # serial_shell_init, which no longer linked. A full build takes seconds.
        shutil.rmtree(build, ignore_errors=True)
        family = _family(source, target, project, options, contiki) if options.config else None
        if family is not None:
            _start_from_family(family, hashed, build, [*_c_files(source), *_c_files(shared)])
            if (copied := _find_elf(build, project, target)) is not None:
                copied.unlink()  # linked again from the objects compiled anew
        write_config_header(options, folder)
        _make(make_argv(source, target, project, options, contiki, build, shared), source,
              target, options, map_path, folder / "build.log")
        elf = _find_elf(build, project, target)
        if elf is None or not map_path.is_file():
            log = folder / "build.log"
            raise BuildError(f"{name}: {target} build made no {project}.{target} "
                             f"({_skipped(log)}); full log: {log}")
        stamp.write_text(hashed)
        if family is not None and out is None:  # never a private (secret) build: it goes
            write_json_atomic(family, {"folder": str(folder)})  # away with its run
        return Firmware(name, target, source, contiki, shared, elf, map_path, elf.parent / "obj",
                        build, hashed, cached=False, seconds=time.monotonic() - started)


def _family(source: Path, target: Target, project: str, options: BuildOptions,
            contiki: Path) -> Path:
    """Where the last configured build of this app, target and options (any configuration)
    is named: the builds of a lab's nodes differ in their configuration only."""
    key = options_hash(source, target, project, replace(options, config={}), contiki)
    return FIRMWARE_DIR / source.name / target.value / f"family-{key[:16]}.json"


def _start_from_family(family: Path, hashed: str, build: Path, own_sources: list[Path]) -> None:
    """A configured build starts as a copy of a sibling's (same sources and options, another
    configuration; times kept, so make finds Contiki's objects up to date) less the objects
    of the project's own C files (the app's, nodes/contiki/'s), which the configuration header
    may change: a board's image takes a few compiles and a link, not a whole Contiki build
    per node. No sibling, or one busy or of other sources: a build from scratch."""
    try:
        sibling = Path(json.loads(family.read_text())["folder"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    if not (sibling / ".sources").is_file() or (sibling / ".sources").read_text() != hashed:
        return
    with (sibling / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # being rebuilt right now
        try:
            shutil.copytree(sibling / "build", build, symlinks=True)
        except (OSError, shutil.Error):
            shutil.rmtree(build, ignore_errors=True)
            return
    own = {source.stem + ".o" for source in own_sources}
    for obj in build.rglob("*.o"):
        if obj.name in own:
            obj.unlink()


def _c_files(root: Path) -> list[Path]:
    return [path for path in _source_files(root) if path.suffix == ".c"]


def medium_firmware(app: str) -> Path:
    """The ELF of `app` for the emulated air (the `medium` platform), built now or cached:
    what the emulated backend runs as a Contiki node (EmulatedNetwork.up(firmware_for=...))."""
    return build_firmware(app, Target.MEDIUM).elf


def board_image(board: Board, elf: Path) -> Path:
    """What a lab board's flasher writes: the ELF of a native board; for a CC2538 board
    (zoul, cc2538dk) the raw flash image beside it, made as Contiki's `make <app>.bin` makes it
    (arch/cpu/arm/Makefile.arm: objcopy -O binary, gaps filled with 0xff as erased flash
    reads). It starts at the ELF's lowest load address, which the flasher must be given
    (cc2538-bsl -a: 0x00202000 on a RE-Mote rev-b, after its bootloader, as Contiki's
    Makefile.zoul derives it)."""
    if board.emulator == "contiki-native" or board.target in (None, "medium"):
        return elf
    binary = elf.with_suffix(".bin")
    if not binary.is_file() or binary.stat().st_mtime < elf.stat().st_mtime:
        argv = ["arm-none-eabi-objcopy", "-O", "binary", "--gap-fill", "0xff", str(elf),
                str(binary)]
        try:
            done = subprocess.run(dies_with_parent(argv, lasting=False), capture_output=True,
                                  text=True, timeout=60, check=False)
        except FileNotFoundError:
            raise BuildError(f"{elf.name}: arm-none-eabi-objcopy not found (apt-get install "
                             "binutils-arm-none-eabi)") from None
        if done.returncode != 0:
            raise BuildError(f"{elf.name}: objcopy: {done.stderr.strip()}")
    return binary


#: configuration keys whose values are secrets: an image that holds one is built under the
#: run's private directory (removed with the run), never in the shared firmware cache
SECRET_KEYS = frozenset({"PASSWORD"})


def board_firmware(board: Board, app: str, config: Mapping[str, str], *,
                   private: Path | None = None) -> Path:
    """The image of `app` for a lab board (testbed/backends/lab.py flashes it): built for the
    board's `target` (a native board's: medium) with its make variables and the node's
    configuration compiled in, as a board carries it. A configuration with a secret (an XMPP
    password) is built under `private` (the run's private directory), so neither its header
    nor its objects nor its image outlive the run; the others are cached as usual."""
    target = board.target or ("medium" if board.emulator == "contiki-native" else None)
    if target is None:
        raise BadInput(f"board {board.name}: no target to build for (add `target: zoul` or "
                       "another Contiki-NG target to the board in the lab file)")
    options = BuildOptions(make=dict(board.make), config=dict(config))
    secret = any(config.get(key) for key in SECRET_KEYS)
    out = private / "firmware" if secret and private is not None else None
    return board_image(board, build_firmware(app, target, options, out=out).elf)


def make_argv(source: Path, target: Target, project: str, options: BuildOptions, contiki: Path,
              build: Path, shared: Path | None = None) -> list[str]:
    argv = ["make", f"-j{MAKE_JOBS}", "--no-print-directory", "-C", str(source),
            f"TARGET={target}", f"BUILD_DIR={build}", f"CONTIKI={contiki}", f"RELSTR={RELSTR}"]
    if platform_dir(shared).is_dir():
        argv.append(f"TARGETDIRS={platform_dir(shared)}")
    argv += [f"{k}={v}" for k, v in sorted(options.make.items())]
    return argv + [project]


def compile_flags(options: BuildOptions, header: Path | None = None) -> list[str]:
    flags = [f"-D{k}={v}" for k, v in sorted(options.defines.items())]
    if options.config:
        flags += ["-include", str(header) if header is not None else CONFIG_HEADER]
    if options.stack_usage:
        flags += ["-fstack-usage", "-fcallgraph-info=su"]
    return flags


def make_env(options: BuildOptions, map_path: Path) -> dict[str, str]:
    """CFLAGS/LDFLAGS through the environment: Contiki's makefiles append to them (`+=`),
    where the same on make's command line would replace Contiki's own flags."""
    env = {k: v for k, v in os.environ.items() if k not in ("CFLAGS", "LDFLAGS", "MAKEFLAGS")}
    header = map_path.parent / CONFIG_HEADER
    env.update(CFLAGS=" ".join(compile_flags(options, header)),
               LDFLAGS=f"-Wl,-Map={map_path}", LC_ALL="C")
    return env


def write_config_header(options: BuildOptions, folder: Path) -> None:
    """The configuration header beside the map (0600: it may hold a password), or none."""
    path = folder / CONFIG_HEADER
    if not options.config:
        path.unlink(missing_ok=True)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(config_header_text(options.config))


def _make(argv: list[str], source: Path, target: Target, options: BuildOptions, map_path: Path,
          log: Path) -> None:
    with log.open("w") as out:
        out.write(" ".join(argv) + "\n")
        out.flush()
        try:
            done = subprocess.run(dies_with_parent(argv, lasting=False), stdout=out,
                                  stderr=subprocess.STDOUT, env=make_env(options, map_path),
                                  timeout=1200, check=False)
        except FileNotFoundError:
            raise BuildError(f"{source.name}: make not found (apt-get install make)") from None
        except subprocess.TimeoutExpired:
            raise BuildError(f"{source.name}: {target} build still running after 20 min; "
                             f"full log: {log}") from None
    if done.returncode != 0:
        raise BuildError(f"{source.name}: {target} build failed: {first_error(log)}; "
                         f"full log: {log}")


_ERROR = re.compile(r"(\berror\b|undefined reference|multiple definition|No rule to make|"
                    r"No such file|will not fit|overflowed by)", re.IGNORECASE)


def first_error(log: Path) -> str:
    """The compiler's (or linker's, or make's) first error line of a failed build."""
    lines = log.read_text(errors="replace").splitlines()[1:]
    for line in lines:
        if _ERROR.search(line) and not line.lstrip().startswith("make"):
            return line.strip()
    for line in lines:
        if "***" in line:
            return line.strip()
    return lines[-1].strip() if lines else "(no output)"


def _skipped(log: Path) -> str:
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("Skipping"):
            return line.strip()
    return "no ELF where Contiki puts it"


def _find_elf(build: Path, project: str, target: Target) -> Path | None:
    """$(BUILD_DIR)/<target>[/<board>]/<project>.<target> (zoul adds a board folder)."""
    found = sorted(build.glob(f"{target}/**/{project}.{target}")) if build.is_dir() else []
    return found[0] if found else None


class _locked:
    """One build per BUILD_DIR at a time (two sessions asking for the same firmware)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        self.file = self.path.open("w")
        fcntl.flock(self.file, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


# --- command line (the lead's CLI may call `main` or `build_firmware`) --------------------------

def _pairs(items: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise BadInput(f"{what} {item!r}: expected NAME=VALUE")
        pairs[name] = value
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.contiki.build",
                                     description="Build a Contiki-NG app (cached).")
    parser.add_argument("app", help="an app of nodes/contiki/ or a Contiki app folder")
    parser.add_argument("target", help=", ".join(t.value for t in Target))
    parser.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--make", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--project", default=None)
    args = parser.parse_args(argv)
    try:
        options = BuildOptions(defines=_pairs(args.defines, "-D"),
                               make=_pairs(args.make, "--make"))
        firmware = build_firmware(args.app, args.target, options, project=args.project)
    except TestbedError as exc:
        print(f"build: {exc}", file=sys.stderr)
        return exc.exit_status
    print(f"elf {firmware.elf}\nmap {firmware.map}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
