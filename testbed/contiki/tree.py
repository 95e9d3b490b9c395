"""The Contiki-NG tree every firmware build uses: pinned, verified, unpacked once.

What it is: Contiki-NG 5.0 with ARM's CMSIS 5 core headers in the submodule's place
(arch/cpu/arm/CMSIS/), taken from the vendored tarballs (../shared/vendor/, checked against
the sha256 pinned here) or, when a tarball is not there, fetched from upstream git at the
pinned commit (git verifies every object it receives and the commit id must equal the pin).
Both sources give the same tar layout, unpacked the same way. What it is not: a build.

Why a stamp and a swap: builds of several engineers and test sessions read the tree at once.
The tree is unpacked into a sibling temporary directory and swapped in with one rename
(renameat2 RENAME_EXCHANGE when the destination exists), so nobody ever sees half a tree; a
stamp file in the tree records the pins it was made from, and only a different pin unpacks
again. A tree unpacked by hand (no stamp) is kept when every file of the vendored tarballs is
in it unchanged.

Run as `python -m testbed.contiki.tree --dest build/contiki-ng --vendor ../shared/vendor`
(the Makefile's `contiki` target). Stdlib only: it runs before anything else is installed.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from testbed.errors import BadInput, TestbedError


class TreeError(BadInput):
    """A pinned source does not match its pin, or cannot be had (one line, exit status 2)."""


@dataclass(frozen=True, slots=True)
class Pin:
    """One upstream source at one commit, and what of it goes where in the tree.

    `vendored`: the tarball's name in the vendor folder, `sha256` its pinned sum; its members
    start with `prefix`/. `paths`: what git archive takes (None: the whole commit). `into`: the
    folder of the tree the prefix folder lands in ("" for the tree's parent: the tree itself)."""

    name: str
    url: str
    commit: str
    vendored: str
    sha256: str
    prefix: str
    into: str
    paths: tuple[str, ...] | None = None
    partial: bool = False  # fetch blobs only as needed (CMSIS_5 is large; we take 30 headers)

    def stamp_line(self) -> str:
        return f"{self.name} {self.commit} sha256:{self.sha256}"


CONTIKI_NG = Pin(
    name="contiki-ng", url="https://github.com/contiki-ng/contiki-ng.git",
    commit="9f80681d3d2fb1299f089cdcf3c25bfcb228fce8",  # release 5.0
    vendored="contiki-ng-5.0.tar.xz",
    sha256="f2ad2c89e92b7adb6e28fe02fd0adca1b6c3939292f5d87b167f384010760aa2",
    prefix="contiki-ng", into="",
)
CMSIS5_CORE = Pin(
    name="cmsis5-core", url="https://github.com/ARM-software/CMSIS_5.git",
    commit="2b7495b8535bdcb306dac29b9ded4cfb679d7e5c",  # Contiki-NG 5.0's submodule pin
    vendored="cmsis5-core-2b7495b.tar.xz",
    sha256="dfc61a2d28508586a561fe159df5f547d698858af566407270b124b420ab69f2",
    prefix="CMSIS", into="arch/cpu/arm", paths=("LICENSE.txt", "CMSIS/Core/Include"),
    partial=True,
)
PINS: tuple[Pin, ...] = (CONTIKI_NG, CMSIS5_CORE)
STAMP = ".testbed-pins"
TREE_NAME = "contiki-ng"  # the tarball's top folder


def stamp_text(pins: tuple[Pin, ...] = PINS) -> str:
    return "".join(pin.stamp_line() + "\n" for pin in pins)


# --- the sources ------------------------------------------------------------------------------

def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def vendored_tarball(pin: Pin, vendor: Path | None) -> Path | None:
    """The pin's tarball in `vendor`, sha256-checked; None when the folder does not hold it."""
    if vendor is None or not (vendor / pin.vendored).is_file():
        return None
    path = vendor / pin.vendored
    found = sha256_of(path)
    if found != pin.sha256:
        raise TreeError(f"{path}: sha256 {found} is not the pinned {pin.sha256} "
                        f"({pin.name} {pin.commit[:12]}); not unpacking it")
    return path


def git_tarball(pin: Pin, workdir: Path, *, url: str | None = None) -> Path:
    """The pinned commit fetched with git and written as a tar like the vendored one.

    git checks every object's hash as it receives it (transfer.fsckObjects); the fetched commit
    must be the pin. GitHub serves a commit by id (uploadpack.allowReachableSHA1InWant)."""
    repo = workdir / f"{pin.name}.git"
    out = workdir / f"{pin.name}.tar"
    source = url or pin.url
    git = ["git", "-c", "transfer.fsckObjects=true", "-c", "protocol.version=2",
           "-c", "advice.detachedHead=false", "-C", str(repo)]
    repo.mkdir(parents=True)
    _git(pin, ["git", "init", "-q", "--bare", str(repo)])
    _git(pin, git + ["remote", "add", "origin", source])
    fetch = ["fetch", "-q", "--depth", "1", "--no-tags"]
    if pin.partial:
        fetch.append("--filter=blob:none")
    _git(pin, git + fetch + ["origin", pin.commit])
    got = _git(pin, git + ["rev-parse", "--verify", "FETCH_HEAD^{commit}"]).strip()
    if got != pin.commit:
        raise TreeError(f"{source}: fetched commit {got} is not the pinned {pin.commit} "
                        f"({pin.name}); not unpacking it")
    archive = ["archive", "--format=tar", f"--prefix={pin.prefix}/", f"--output={out}",
               pin.commit, *(pin.paths or ())]
    _git(pin, git + archive)  # a partial repo fetches the blobs it lacks here, hash-checked
    return out


def _git(pin: Pin, argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
    except FileNotFoundError:
        raise TreeError(f"{pin.name}: {pin.vendored} is not vendored and git is not installed "
                        "(apt-get install git, or put the tarball in ../shared/vendor/)") from None
    except subprocess.TimeoutExpired:
        raise TreeError(f"{pin.name}: git {argv[-1]} timed out after 30 min") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        command = " ".join(argv[argv.index("-C") + 2:] if "-C" in argv else argv[1:])
        raise TreeError(f"{pin.name}: git {command[:80]} failed ({done.returncode}): {last}")
    return done.stdout


# --- unpacking and comparing ------------------------------------------------------------------

def _members(archive: Path) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    with tarfile.open(archive) as tar:
        for member in tar:
            yield tar, member


def unpack(archive: Path, pin: Pin, tree: Path) -> None:
    """Every member under `pin.prefix`/ into tree/`pin.into` (the tree's parent when empty);
    tarfile's 'data' filter refuses absolute paths, `..` and links out of the destination."""
    into = tree.parent if pin.into == "" else tree / pin.into
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        for member in tar:
            if not (member.name == pin.prefix or member.name.startswith(pin.prefix + "/")):
                raise TreeError(f"{archive}: member {member.name!r} is outside {pin.prefix}/")
        tar.extractall(into, filter="data")


def differences(archive: Path, pin: Pin, tree: Path, limit: int = 3) -> list[str]:
    """Files and links of `archive` that `tree` lacks or holds otherwise (content, executable
    bit, link target). Extra files in the tree (build outputs) are not differences."""
    into = tree.parent if pin.into == "" else tree / pin.into
    found: list[str] = []
    for tar, member in _members(archive):
        path = into / member.name
        if member.isfile():
            try:
                if path.is_symlink() or not path.is_file():
                    found.append(f"{member.name}: missing")
                elif path.stat().st_size != member.size or \
                        path.read_bytes() != _read(tar, member):
                    found.append(f"{member.name}: content differs")
                elif bool(path.stat().st_mode & 0o100) != bool(member.mode & 0o100):
                    found.append(f"{member.name}: executable bit differs")
            except OSError as exc:
                found.append(f"{member.name}: {exc.strerror}")
        elif member.issym():
            if not path.is_symlink() or os.readlink(path) != member.linkname:
                found.append(f"{member.name}: link differs")
        elif member.isdir() and not path.is_dir():
            found.append(f"{member.name}/: missing")
        if len(found) >= limit:
            break
    return found


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    extracted = tar.extractfile(member)
    return extracted.read() if extracted else b""


# --- the swap ---------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> None:
    """Swap two directories in one step (renameat2(2) RENAME_EXCHANGE, Linux >= 3.15)."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 not in this libc")
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(a))


def put_in_place(staged: Path, dest: Path) -> None:
    """`staged` becomes `dest` at once; the tree it replaces (now at `staged`) is removed.

    A compile that has a file of the old tree open keeps reading it (the inode lives on until
    closed); every later open by path gets the new tree."""
    if dest.exists():
        try:
            exchange(staged, dest)
        except OSError:  # not Linux, or a filesystem without exchange: two renames
            aside = staged.with_name(staged.name + ".old")
            os.rename(dest, aside)
            os.rename(staged, dest)
            staged = aside
        shutil.rmtree(staged)
    else:
        os.rename(staged, dest)


@contextmanager
def locked(dest: Path) -> Iterator[None]:
    """One provider at a time per tree (two `make test` at once): a flock beside it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{dest.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- the one call -----------------------------------------------------------------------------

def ensure_tree(dest: str | Path, *, vendor: str | Path | None, pins: tuple[Pin, ...] = PINS,
                urls: dict[str, str] | None = None, say=print) -> str:
    """Make `dest` the pinned tree; returns what was done: "up to date", "adopted" (a tree
    unpacked by hand, identical to the vendored tarballs), "unpacked" or "replaced".

    `urls` overrides a pin's upstream by name (tests use a file:// repository)."""
    dest = Path(os.path.abspath(dest))
    vendor = Path(os.path.abspath(vendor)) if vendor is not None else None
    want = stamp_text(pins)
    with locked(dest):
        stamp = dest / STAMP
        have = stamp.read_text() if stamp.is_file() else None
        if have == want:
            return "up to date"
        with tempfile.TemporaryDirectory(prefix=f".{dest.name}.new-", dir=dest.parent) as tmp:
            work = Path(tmp)
            tarballs = {pin.name: vendored_tarball(pin, vendor) for pin in pins}
            vendored = [(pin, tarballs[pin.name]) for pin in pins]
            if have is None and dest.is_dir() and all(path for _, path in vendored):
                if not any(differences(path, pin, dest) for pin, path in vendored if path):
                    stamp.write_text(want)
                    return "adopted"
            for pin in pins:
                if tarballs[pin.name] is None:
                    say(f"{pin.name}: {pin.vendored} not in {vendor}; fetching {pin.commit[:12]} "
                        f"from {(urls or {}).get(pin.name, pin.url)}")
                    tarballs[pin.name] = git_tarball(pin, work, url=(urls or {}).get(pin.name))
            staged = work / TREE_NAME
            for pin in pins:
                unpack(tarballs[pin.name], pin, staged)  # type: ignore[arg-type]
            if not staged.is_dir():
                raise TreeError(f"{pins[0].name}: the archive holds no {TREE_NAME}/ folder")
            (staged / STAMP).write_text(want)
            existed = dest.exists()
            put_in_place(staged, dest)
            return "replaced" if existed else "unpacked"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.contiki.tree",
                                     description="Provide the pinned Contiki-NG tree.")
    parser.add_argument("--dest", default="build/contiki-ng")
    parser.add_argument("--vendor", default="../shared/vendor",
                        help="folder of the vendored tarballs (used when it holds them)")
    args = parser.parse_args(argv)
    try:
        done = ensure_tree(args.dest, vendor=args.vendor,
                           say=lambda line: print(f"contiki: {line}", file=sys.stderr))
    except TestbedError as exc:
        print(f"contiki: {exc}", file=sys.stderr)
        return exc.exit_status
    except tarfile.TarError as exc:
        print(f"contiki: {args.dest}: an archive does not unpack: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"contiki: {args.dest}: {exc}", file=sys.stderr)
        return 1
    if done != "up to date":
        print(f"contiki: {args.dest}: {done} (Contiki-NG {CONTIKI_NG.commit[:12]}, "
              f"CMSIS 5 {CMSIS5_CORE.commit[:12]})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
