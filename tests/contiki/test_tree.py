"""The pinned Contiki-NG tree: vendored tarballs checked and unpacked once, a hand-unpacked tree
adopted, a changed file or pin unpacked again with a swap, git at a pinned commit.

Real parts: the vendored tarballs of ../shared/vendor, real git (a file:// repository made here
from those tarballs stands in for GitHub, which this machine cannot reach), `make contiki`."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from testbed.contiki import tree
from testbed.contiki.tree import CMSIS5_CORE, CONTIKI_NG, STAMP, TreeError, ensure_tree

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO.parent / "shared" / "vendor"
needs_vendor = pytest.mark.skipif(
    not all((VENDOR / p.vendored).is_file() for p in tree.PINS),
    reason=f"no vendored tarballs in {VENDOR} (see its README)")
quiet = lambda line: None  # noqa: E731


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One vendored unpack for the tests that only read it (1-2 s)."""
    if not all((VENDOR / p.vendored).is_file() for p in tree.PINS):
        pytest.skip(f"no vendored tarballs in {VENDOR}")
    dest = tmp_path_factory.mktemp("tree") / "contiki-ng"
    assert ensure_tree(dest, vendor=VENDOR, say=quiet) == "unpacked"
    return dest


@needs_vendor
def test_vendored_tree_has_contiki_and_cmsis_where_the_submodule_goes(unpacked: Path) -> None:
    assert (unpacked / "Makefile.include").is_file()
    include = unpacked / "arch/cpu/arm/CMSIS/CMSIS/Core/Include"
    assert (include / "core_cm3.h").is_file() and (include / "cmsis_gcc.h").is_file()
    assert (unpacked / "arch/cpu/arm/CMSIS/LICENSE.txt").is_file()
    assert (unpacked / STAMP).read_text() == (f"contiki-ng {CONTIKI_NG.commit} "
                                              f"sha256:{CONTIKI_NG.sha256}\n"
                                              f"cmsis5-core {CMSIS5_CORE.commit} "
                                              f"sha256:{CMSIS5_CORE.sha256}\n")
    assert not [p for p in unpacked.parent.iterdir() if p.name.startswith(".contiki-ng.new-")]
    # the second call only reads the stamp
    assert ensure_tree(unpacked, vendor=VENDOR, say=quiet) == "up to date"


@needs_vendor
def test_a_tree_unpacked_by_hand_is_adopted_and_a_changed_one_replaced(tmp_path: Path) -> None:
    dest = tmp_path / "contiki-ng"
    dest.mkdir()
    for pin in tree.PINS:  # by hand, like the checkout's build/contiki-ng
        into = tmp_path if pin.into == "" else dest / pin.into
        subprocess.run(["tar", "-C", str(into), "-xJf", str(VENDOR / pin.vendored)], check=True)
    (dest / "examples/hello-world/build").mkdir()  # a build output is not a difference
    assert ensure_tree(dest, vendor=VENDOR, say=quiet) == "adopted"
    inode = dest.stat().st_ino

    (dest / STAMP).unlink()
    (dest / "os/contiki.h").write_text("/* edited */\n")
    held = (dest / "README.md").open()  # a compile reading the old tree keeps its file
    assert ensure_tree(dest, vendor=VENDOR, say=quiet) == "replaced"
    assert "edited" not in (dest / "os/contiki.h").read_text()
    assert dest.stat().st_ino != inode
    assert "Contiki-NG" in held.read()  # the old README, read after the swap and removal
    held.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".contiki-ng.lock", "contiki-ng"]


@needs_vendor
def test_a_changed_pin_unpacks_again(unpacked: Path, tmp_path: Path) -> None:
    dest = tmp_path / "contiki-ng"
    shutil.copytree(unpacked, dest, symlinks=True)
    (dest / STAMP).write_text("contiki-ng 0000000000000000000000000000000000000000 sha256:00\n")
    (dest / "stale-file-of-the-old-pin").write_text("x")
    assert ensure_tree(dest, vendor=VENDOR, say=quiet) == "replaced"
    assert not (dest / "stale-file-of-the-old-pin").exists()
    assert (dest / STAMP).read_text() == tree.stamp_text()


@needs_vendor
def test_a_vendored_tarball_with_another_sha256_stops_before_unpacking(tmp_path: Path,
                                                                        capsys) -> None:
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    shutil.copy(VENDOR / CONTIKI_NG.vendored, vendor)
    data = bytearray((VENDOR / CMSIS5_CORE.vendored).read_bytes())
    data[-100] ^= 0xFF
    (vendor / CMSIS5_CORE.vendored).write_bytes(bytes(data))
    dest = tmp_path / "out" / "contiki-ng"
    with pytest.raises(TreeError, match=r"cmsis5-core-2b7495b\.tar\.xz: sha256 [0-9a-f]{64} is "
                                        r"not the pinned dfc61a2d.*not unpacking"):
        ensure_tree(dest, vendor=vendor, say=quiet)
    assert not dest.exists()

    status = tree.main(["--dest", str(dest), "--vendor", str(vendor)])
    err = capsys.readouterr().err
    assert status == 2 and len(err.splitlines()) == 1 and "sha256" in err
    assert not dest.exists()


def git(*argv: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", *argv], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def upstream(tmp: Path, pin: tree.Pin, extra: str) -> tuple[str, str]:
    """A git repository holding the vendored tarball's files at a commit that is *not* the tip
    (as the pins are upstream), with a later commit adding `extra`; -> (url, pinned commit)."""
    repo = tmp / f"{pin.name}-upstream"
    repo.mkdir()
    subprocess.run(["tar", "-C", str(repo), "--strip-components=1", "-xJf",
                    str(VENDOR / pin.vendored)], check=True)
    git("init", "-q", cwd=repo)
    git("add", "-A", "--force", cwd=repo)  # the tree's own .gitignore would skip some files
    git("commit", "-q", "-m", "pinned", cwd=repo)
    pinned = git("rev-parse", "HEAD", cwd=repo)
    (repo / extra).write_text("a later commit\n")
    git("add", extra, cwd=repo)
    git("commit", "-q", "-m", "later", cwd=repo)
    # what github.com allows: fetching a reachable commit by id, and blob-less fetches
    git("config", "uploadpack.allowReachableSHA1InWant", "true", cwd=repo)
    git("config", "uploadpack.allowFilter", "true", cwd=repo)
    return f"file://{repo}", pinned


@needs_vendor
@pytest.mark.skipif(not shutil.which("git"), reason="no git: apt-get install git")
def test_without_the_vendored_files_git_fetches_the_pinned_commits(tmp_path: Path,
                                                                    unpacked: Path) -> None:
    contiki_url, contiki_commit = upstream(tmp_path, CONTIKI_NG, "LATER.md")
    cmsis_url, cmsis_commit = upstream(tmp_path, CMSIS5_CORE, "CMSIS/Core/Include/later.h")
    pins = (dataclasses.replace(CONTIKI_NG, commit=contiki_commit),
            dataclasses.replace(CMSIS5_CORE, commit=cmsis_commit))
    urls = {"contiki-ng": contiki_url, "cmsis5-core": cmsis_url}
    said: list[str] = []
    dest = tmp_path / "out" / "contiki-ng"
    assert ensure_tree(dest, vendor=tmp_path / "no-vendor", pins=pins, urls=urls,
                       say=said.append) == "unpacked"
    assert len(said) == 2 and "fetching" in said[0] and contiki_url in said[0]
    assert not (dest / "LATER.md").exists()  # the pinned commit, not the tip
    assert not (dest / "arch/cpu/arm/CMSIS/CMSIS/Core/Include/later.h").exists()
    # the same files and links as the vendored tarballs give (git keeps no empty folders)
    assert files(dest) == files(unpacked)


def files(root: Path) -> dict[str, bytes | str]:
    return {str(p.relative_to(root)): os.readlink(p) if p.is_symlink() else p.read_bytes()
            for p in root.rglob("*") if (p.is_symlink() or p.is_file()) and p.name != STAMP}


@pytest.mark.skipif(not shutil.which("git"), reason="no git: apt-get install git")
def test_a_commit_upstream_does_not_have_is_one_clear_error(tmp_path: Path) -> None:
    repo = tmp_path / "empty-upstream"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    (repo / "README.md").write_text("x\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "x", cwd=repo)
    dest = tmp_path / "out" / "contiki-ng"
    with pytest.raises(TreeError,
                       match=r"^contiki-ng: git fetch .*9f80681d3d2f.* failed \(\d+\): "):
        ensure_tree(dest, vendor=None, pins=(CONTIKI_NG,), urls={"contiki-ng": f"file://{repo}"},
                    say=quiet)
    assert not dest.exists()


def test_exchange_swaps_two_directories_in_one_step(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "from-a").touch()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "from-b").touch()
    tree.exchange(tmp_path / "a", tmp_path / "b")
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["from-b"]
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["from-a"]


@needs_vendor
def test_make_contiki_takes_another_destination(tmp_path: Path) -> None:
    """The Makefile's target, as `make test` runs it, on a destination of the test's own."""
    dest = tmp_path / "contiki-ng"
    done = subprocess.run(["make", "-s", "contiki", f"CONTIKI_DIR={dest}",
                           f"CONTIKI_VENDOR={VENDOR}"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "unpacked" in done.stderr and (dest / STAMP).is_file()
    again = subprocess.run(["make", "-s", "contiki", f"CONTIKI_DIR={dest}",
                            f"CONTIKI_VENDOR={VENDOR}"], cwd=REPO, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0 and again.stderr == ""
