"""Contiki firmware builds: Contiki's real make and compilers on a tiny app written here, the
cache (content hash of the sources, options in the key), and one clear error for a bad build."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.contiki import build
from testbed.contiki.build import BuildError, BuildOptions, Target, build_firmware
from testbed.errors import BadInput

pytestmark = pytest.mark.skipif(
    not (build.CONTIKI_DIR / "Makefile.include").is_file() or not shutil.which("make")
    or not shutil.which("gcc"),
    reason="no Contiki-NG tree or no native toolchain: make contiki (apt-get install make gcc)")

MAKEFILE = """\
CONTIKI_PROJECT = greeter
all: $(CONTIKI_PROJECT)
CONTIKI ?= ../../build/contiki-ng
include $(CONTIKI)/Makefile.include
"""
SOURCE = """\
#include "contiki.h"
#include <stdio.h>
#ifndef GREETER_CONF_N
#define GREETER_CONF_N 1
#endif
#define STR2(x) #x
#define STR(x) STR2(x)
static const char greeting[] = "greeter-says-" STR(GREETER_CONF_N);
PROCESS(greeter_process, "greeter");
AUTOSTART_PROCESSES(&greeter_process);
PROCESS_THREAD(greeter_process, ev, data)
{
  PROCESS_BEGIN();
  printf("%s\\n", greeting);
  PROCESS_END();
}
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    folder = tmp_path / "greeter"
    folder.mkdir()
    (folder / "Makefile").write_text(MAKEFILE)
    (folder / "greeter.c").write_text(SOURCE)
    return folder


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A nodes/contiki/ of the test's own: the checkout's changes while others work on it, and
    a change there would rebuild (the cache tests would see it)."""
    folder = tmp_path / "nodes-contiki"
    (folder / "common").mkdir(parents=True)
    (folder / "common" / "shared.h").write_text("/* v1 */\n")
    return folder


def test_a_native_build_is_cached_until_a_source_changes(app: Path, shared: Path,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "firmware"
    first = build_firmware(app, "native", out=out, shared=shared)
    assert not first.cached and first.elf.is_file() and first.map.is_file()
    assert first.elf.name == "greeter.native" and out in first.elf.parents
    assert b"greeter-says-1" in first.elf.read_bytes()
    assert list(first.objects.glob("*.su"))  # -fstack-usage reached the compiler
    assert list(first.objects.glob("*.ci"))  # and so did -fcallgraph-info
    assert "Linker script and memory map" in first.map.read_text()

    again = build_firmware(app, "native", out=out, shared=shared)
    assert again.cached and again.elf == first.elf and again.seconds < first.seconds

    (app / "greeter.c").write_text(SOURCE.replace("greeter-says-", "greeter-now-says-"))
    changed = build_firmware(app, "native", out=out, shared=shared)
    assert not changed.cached and changed.elf == first.elf
    assert b"greeter-now-says-1" in changed.elf.read_bytes()
    assert changed.sources_hash != first.sources_hash

    (shared / "common" / "shared.h").write_text("/* v2 */\n")  # nodes/contiki/common changed
    assert not build_firmware(app, "native", out=out, shared=shared).cached
    assert build_firmware(app, "native", out=out, shared=shared).cached


def test_options_are_compile_time_parameters_and_part_of_the_key(app: Path, shared: Path,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "firmware"
    plain = build_firmware(app, Target.NATIVE, out=out, shared=shared)
    seven = build_firmware(app, Target.NATIVE, BuildOptions(defines={"GREETER_CONF_N": "7"}),
                           out=out, shared=shared)
    assert not seven.cached and seven.build_dir != plain.build_dir
    assert b"greeter-says-7" in seven.elf.read_bytes()
    assert b"greeter-says-1" in plain.elf.read_bytes()  # the other one is left as it was
    assert build_firmware(app, Target.NATIVE, BuildOptions(defines={"GREETER_CONF_N": "7"}),
                          out=out, shared=shared).cached


def test_a_compile_error_is_one_line_with_the_compilers_first_error(app: Path, shared: Path,
                                                                    tmp_path: Path,
                                                                    capsys) -> None:
    (app / "greeter.c").write_text(SOURCE.replace("PROCESS_BEGIN();", "PROCESS_BEGIN()\n  oops;"))
    with pytest.raises(BuildError, match=r"^greeter: native build failed: .*greeter\.c:\d+:\d+: "
                                         r"error: .*; full log: .*build\.log$") as caught:
        build_firmware(app, "native", out=tmp_path / "firmware", shared=shared)
    assert "\n" not in str(caught.value)
    log = Path(str(caught.value).rsplit("full log: ", 1)[1])
    assert "error:" in log.read_text()

    assert build.main([str(app), "native"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "error:" in err


def test_options_that_could_reach_a_shell_or_move_the_build_are_refused() -> None:
    with pytest.raises(BadInput, match=r"-DX=a b: a macro is a C identifier"):
        BuildOptions(defines={"X": "a b"})
    with pytest.raises(BadInput, match=r"X=\$\(shell id\)"):
        BuildOptions(make={"X": "$(shell id)"})
    with pytest.raises(BadInput, match=r"BUILD_DIR=/tmp: BUILD_DIR is set by the build itself"):
        BuildOptions(make={"BUILD_DIR": "/tmp"})
    with pytest.raises(BadInput, match=r"target 'sky': expected one of medium, native"):
        build_firmware("hello", "sky")


def test_the_argv_keeps_contikis_flags_and_adds_ours_through_the_environment(
        tmp_path: Path) -> None:
    options = BuildOptions(defines={"A_CONF_B": "3"}, make={"MAKE_WITH_X": "1"})
    argv = build.make_argv(tmp_path, Target.CC2538DK, "p", options, tmp_path / "c",
                           tmp_path / "b")
    assert argv[:2] == ["make", "-j2"] and argv[-1] == "p"
    assert "TARGET=cc2538dk" in argv and "MAKE_WITH_X=1" in argv
    assert not any(a.startswith(("CFLAGS", "LDFLAGS")) for a in argv)  # would replace Contiki's
    env = build.make_env(options, tmp_path / "p.map")
    assert env["CFLAGS"] == "-DA_CONF_B=3 -fstack-usage -fcallgraph-info=su"
    assert env["LDFLAGS"] == f"-Wl,-Map={tmp_path / 'p.map'}"


def test_an_app_of_nodes_contiki_is_found_by_name() -> None:
    assert build.app_dir("coap-sensor") == (build.nodes_dir() / "contiki" / "coap-sensor").resolve()
    assert build.app_dir(Path("/x/y")) == Path("/x/y")


CONFIG_APP = """\
#include "contiki.h"
#include <stdio.h>
static const char name[] = TESTBED_NAME;
static const char secret[] = TESTBED_PASSWORD;
PROCESS(greeter_process, "greeter");
AUTOSTART_PROCESSES(&greeter_process);
PROCESS_THREAD(greeter_process, ev, data)
{
  PROCESS_BEGIN();
  printf("%s %s %d\\n", name, secret, NODE_CONFIG_CONF_FROM_ENV);
  PROCESS_END();
}
"""


def test_a_configuration_is_compiled_in_as_a_board_carries_it(app: Path, shared: Path,
                                                                tmp_path: Path) -> None:
    """BuildOptions.config: what a board (or a lab's native board) is flashed with. The values
    reach the image byte for byte, never make's command line or its log; another value is
    another build."""
    (app / "greeter.c").write_text(CONFIG_APP)
    out = tmp_path / "firmware"
    password = 'p"a\\s$(x)?\n\u00e9'
    first = build_firmware(app, Target.NATIVE, BuildOptions(
        config={"NAME": "s9", "PASSWORD": password}), out=out, shared=shared)
    image = first.elf.read_bytes()
    assert b"\0s9\0" in image and b"\0" + password.encode() + b"\0" in image
    folder = first.build_dir.parent
    assert password not in (folder / "build.log").read_text()
    assert (folder / build.CONFIG_HEADER).stat().st_mode & 0o777 == 0o600
    other = build_firmware(app, Target.NATIVE, BuildOptions(
        config={"NAME": "s8", "PASSWORD": password}), out=out, shared=shared)
    assert other.build_dir != first.build_dir and b"\0s8\0" in other.elf.read_bytes()
    with pytest.raises(BadInput, match="config name: a configuration key is upper-case"):
        BuildOptions(config={"name": "s1"})


def test_a_second_nodes_image_builds_on_the_first_ones_objects(
        app: Path, shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lab's boards differ in their configuration only: the second node's image starts from
    the first one's build, compiles the project's own C files again (the configuration may
    reach them) and keeps every object of Contiki's; it carries its own configuration and
    nothing of the first's. A secret configuration (private folder) starts there too."""
    monkeypatch.setattr(build, "FIRMWARE_DIR", tmp_path / "firmware")
    (app / "greeter.c").write_text(CONFIG_APP)
    (shared / "common" / "helper.c").write_text("int helper(void) { return 1; }\n")
    s1 = build_firmware(app, Target.NATIVE, BuildOptions(
        config={"NAME": "s1", "PASSWORD": ""}), shared=shared)
    s2 = build_firmware(app, Target.NATIVE, BuildOptions(
        config={"NAME": "s2", "PASSWORD": ""}), shared=shared)
    secret = build_firmware(app, Target.NATIVE, BuildOptions(
        config={"NAME": "s3", "PASSWORD": "pw"}), shared=shared, out=tmp_path / "private")

    def made(firmware) -> dict[str, int]:  # type: ignore[no-untyped-def]
        return {o.name: o.stat().st_mtime_ns for o in firmware.objects.rglob("*.o")}

    first = made(s1)
    for later in (s2, secret):
        again = made(later)
        assert again.keys() == first.keys()
        kept = {name for name in first if again[name] == first[name]}
        assert kept == set(first) - {"greeter.o", "helper.o"} and len(kept) > 20, kept
    image = s2.elf.read_bytes()
    assert b"\0s2\0" in image and b"\0s1\0" not in image
    assert b"\0s3\0" in secret.elf.read_bytes()


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=40))
def test_c_string_is_the_texts_utf8_bytes_to_gcc(tmp_path_factory, text: str) -> None:
    """gcc is the oracle: the literal c_string writes holds exactly the text's UTF-8 bytes."""
    if "\0" in text:
        return  # a C string cannot hold one (BuildOptions refuses it)
    folder = tmp_path_factory.mktemp("cstring")
    (folder / "s.c").write_text(
        "#include <stdio.h>\nstatic const char s[] = " + build.c_string(text) + ";\n"
        "int main(void) { fwrite(s, 1, sizeof(s) - 1, stdout); return 0; }\n")
    subprocess.run(["gcc", "-Wall", "-Werror", "-o", str(folder / "s"), str(folder / "s.c")],
                   check=True, capture_output=True)
    assert subprocess.run([str(folder / "s")], capture_output=True, check=True).stdout == \
        text.encode()


def test_a_cc2538_board_is_flashed_with_the_raw_image_contikis_make_would_make() -> None:
    """board_firmware for a zoul: the node's app, its configuration compiled in, as the raw
    flash image; pyelftools is the oracle: every loaded section's bytes sit at its address
    minus the image's base, gaps are erased flash (0xff)."""
    from elftools.elf.elffile import ELFFile

    from testbed.config.lab import parse_lab

    if not shutil.which("arm-none-eabi-objcopy"):
        pytest.skip("apt-get install binutils-arm-none-eabi gcc-arm-none-eabi")
    lab = parse_lab("name: l\nboards:\n  z1: {platform: contiki, port: /dev/ttyUSB0, "
                    "target: zoul, make: {BOARD: remote-revb}, node: s1}\n")
    image = build.board_firmware(lab.boards["z1"], "router", {"NAME": "s1"})
    assert image.suffix == ".bin"
    data = image.read_bytes()
    with open(image.with_suffix(".zoul"), "rb") as f:
        segments = [seg for seg in ELFFile(f).iter_segments()
                    if seg["p_type"] == "PT_LOAD" and seg["p_filesz"]]
        base = min(seg["p_paddr"] for seg in segments)  # load addresses: .data's is in flash
        for segment in segments:
            offset = segment["p_paddr"] - base
            assert data[offset:offset + segment["p_filesz"]] == segment.data()
    assert 0x200000 <= base < 0x280000  # the CC2538's flash (remote-revb: after its bootloader)
    assert len(data) == max(seg["p_paddr"] + seg["p_filesz"] for seg in segments) - base
    covered = bytearray(len(data))
    for segment in segments:
        start = segment["p_paddr"] - base
        covered[start:start + segment["p_filesz"]] = b"\1" * segment["p_filesz"]
    assert all(byte == 0xFF for byte, used in zip(data, covered) if not used)
