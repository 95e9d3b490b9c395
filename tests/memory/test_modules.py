"""ROM/RAM by module of real Contiki-NG firmware: Contiki-NG's examples/coap/coap-example-server
built for cc2538dk (arm-none-eabi-gcc) and native, checked against binutils' `size` of the same
ELF (an independent reader of the section headers) and against the objects' own sizes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from testbed.contiki.build import CONTIKI_DIR, Firmware, build_firmware
from testbed.firmware import nodes_dir
from testbed.memory.elf import function_symbols
from testbed.memory.modules import (NOT_IN_MAP, OTHER, Roots, firmware_memory, memory_of,
                                     module_of_source)

EXAMPLE = CONTIKI_DIR / "examples" / "coap" / "coap-example-server"


def built(target: str, tool: str) -> Firmware:
    if not (EXAMPLE / "Makefile").is_file():
        pytest.skip("no Contiki-NG tree: make contiki")
    if not shutil.which(tool):
        pytest.skip(f"no {tool}: apt-get install gcc-arm-none-eabi binutils-arm-none-eabi gcc")
    return build_firmware(EXAMPLE, target)  # the shared cache under build/firmware/


@pytest.fixture(scope="module")
def cc2538dk() -> Firmware:
    return built("cc2538dk", "arm-none-eabi-gcc")


@pytest.fixture(scope="module")
def native() -> Firmware:
    return built("native", "gcc")


def roots() -> Roots:
    return Roots(app=EXAMPLE.resolve(), contiki=CONTIKI_DIR.resolve(),
                 nodes=(nodes_dir() / "contiki").resolve())


def berkeley(size_tool: str, path: Path) -> tuple[int, int, int]:
    out = subprocess.run([size_tool, "-B", str(path)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    text, data, bss = (int(v) for v in out[1].split()[:3])
    return text, data, bss


@pytest.mark.parametrize("firmware, size_tool", [("cc2538dk", "arm-none-eabi-size"),
                                                 ("native", "size")])
def test_modules_add_up_to_what_size_says(firmware: str, size_tool: str,
                                          request: pytest.FixtureRequest) -> None:
    image: Firmware = request.getfixturevalue(firmware)
    memory = firmware_memory(image.elf, image.map, objects=image.objects, roots=roots())
    text, data, bss = berkeley(size_tool, image.elf)
    assert (memory["text"], memory["data"], memory["bss"]) == (text, data, bss)
    assert (memory["rom"], memory["ram"]) == (text + data, data + bss)
    for column in ("text", "data", "bss", "rom", "ram"):
        assert sum(m[column] for m in memory["modules"].values()) == memory[column], column
        assert sum(o[column] for o in memory["objects"].values()) == memory[column], column
    assert NOT_IN_MAP not in memory["modules"]
    assert OTHER not in memory["modules"]
    for module in ("os/net/app-layer/coap", "os/net/ipv6", "os/net/routing/rpl-lite", "app"):
        assert memory["modules"][module]["rom"] > 0, module


def test_the_arm_image_by_module_and_object(cc2538dk: Firmware) -> None:
    memory = firmware_memory(cc2538dk.elf, cc2538dk.map, objects=cc2538dk.objects,
                             roots=roots())
    modules = memory["modules"]
    assert {"arch/cpu/cc2538", "arch/platform/cc2538dk", "os/net/mac/csma", "toolchain/libc",
            "toolchain/libgcc"} <= set(modules)  # native has no CSMA (its tun is its link)
    assert memory["rom"] < 128 * 1024  # the seed's line, for CoAP on Contiki-NG
    objects = memory["objects"]
    engine = objects["os/net/app-layer/coap/coap-engine.c"]
    assert engine["module"] == "os/net/app-layer/coap"
    # an object cannot put more into the image than the .o holds (--gc-sections only drops)
    own = berkeley("arm-none-eabi-size", cc2538dk.objects / "coap-engine.o")
    assert 0 < engine["text"] <= own[0] and engine["data"] <= own[1] and engine["bss"] <= own[2]
    assert objects["app/coap-example-server.c"]["module"] == "app"
    assert any(label.startswith("app/resources/") for label in objects)


def test_stack_frames_are_the_firmwares_functions(cc2538dk: Firmware) -> None:
    memory = firmware_memory(cc2538dk.elf, cc2538dk.map, objects=cc2538dk.objects,
                             roots=roots())
    stack = memory["stack"]
    assert stack is not None and "recursion" in stack["note"]
    frames = stack["frames"]
    assert len(frames) == 10
    assert [f["bytes"] for f in frames] == sorted((f["bytes"] for f in frames), reverse=True)
    functions = function_symbols(cc2538dk.elf)
    assert all(f["function"] in functions for f in frames)
    assert frames[0]["bytes"] >= 64 and frames[0]["module"] != OTHER
    chains = stack["chains"]
    assert chains[0]["bytes"] >= frames[0]["bytes"]  # a chain holds at least its own frame
    assert all(c["function"] in functions for c in chains)
    assert all(c["path"][0] == c["function"] for c in chains)
    # Contiki reaches every process thread through a pointer: main's chain says so
    assert stack["main"]["function"] == "main" and stack["main"]["through_pointer"]


def test_without_the_object_folder_the_totals_still_hold(cc2538dk: Firmware) -> None:
    memory = firmware_memory(cc2538dk.elf, cc2538dk.map, roots=roots())
    assert sum(m["rom"] for m in memory["modules"].values()) == memory["rom"]
    assert memory["stack"] is None


@pytest.mark.parametrize("source, module, label", [
    ("/c/os/net/app-layer/coap/coap-engine.c", "os/net/app-layer/coap",
     "os/net/app-layer/coap/coap-engine.c"),
    ("/c/os/net/ipv6/sicslowpan.c", "os/net/ipv6", "os/net/ipv6/sicslowpan.c"),
    ("/c/os/net/mac/csma/csma-output.c", "os/net/mac/csma", "os/net/mac/csma/csma-output.c"),
    ("/c/os/net/mac/mac.c", "os/net/mac", "os/net/mac/mac.c"),
    ("/c/os/net/routing/rpl-lite/rpl-icmp6.c", "os/net/routing/rpl-lite",
     "os/net/routing/rpl-lite/rpl-icmp6.c"),
    ("/c/os/net/netstack.c", "os/net", "os/net/netstack.c"),
    ("/c/os/services/shell/shell.c", "os/services/shell", "os/services/shell/shell.c"),
    ("/c/os/sys/process.c", "os/sys", "os/sys/process.c"),
    ("/c/os/contiki-main.c", "os", "os/contiki-main.c"),
    ("/c/arch/cpu/cc2538/dev/uart.c", "arch/cpu/cc2538", "arch/cpu/cc2538/dev/uart.c"),
    ("/c/arch/platform/zoul/remote-revb/board.c", "arch/platform/zoul",
     "arch/platform/zoul/remote-revb/board.c"),
    ("/n/lib/xmpp/xmpp-sasl-plain.c", "nodes/contiki/lib/xmpp",
     "nodes/contiki/lib/xmpp/xmpp-sasl-plain.c"),
    ("/n/platform/medium/medium-radio.c", "nodes/contiki/platform/medium",
     "nodes/contiki/platform/medium/medium-radio.c"),
    ("/n/common/reading.c", "nodes/contiki/common", "nodes/contiki/common/reading.c"),
    ("/n/coap-sensor/res-sensors.c", "app", "app/res-sensors.c"),
    ("./res-sensors.c", "app", "app/res-sensors.c"),  # as make wrote it, from the app's folder
    ("../common/reading.c", "nodes/contiki/common", "nodes/contiki/common/reading.c"),
    ("/elsewhere/x.c", OTHER, "/elsewhere/x.c"),
])
def test_a_source_is_named_by_its_module(source: str, module: str, label: str) -> None:
    where = Roots(app=Path("/n/coap-sensor"), contiki=Path("/c"), nodes=Path("/n"))
    assert module_of_source(Path(source), where) == (module, label)


@pytest.mark.parametrize("app, module", [("coap-sensor", "os/net/app-layer/coap"),
                                         ("xmpp-sensor", "nodes/contiki/lib/xmpp")])
def test_the_node_apps_for_cc2538dk(app: str, module: str) -> None:
    """The project's own apps (nodes/contiki/<app>), as results.json will carry them."""
    folder = nodes_dir() / "contiki" / app
    if not (folder / "Makefile").is_file():
        pytest.skip(f"{folder} is not there yet")
    built("cc2538dk", "arm-none-eabi-gcc")  # the same skips
    image = build_firmware(app, "cc2538dk")
    memory = memory_of(image)  # the roots come with the build
    text, data, bss = berkeley("arm-none-eabi-size", image.elf)
    assert (memory["rom"], memory["ram"]) == (text + data, data + bss)
    assert sum(m["rom"] for m in memory["modules"].values()) == memory["rom"]
    assert memory["modules"][module]["rom"] > 0 and memory["modules"]["app"]["rom"] > 0
    assert memory["modules"]["nodes/contiki/common"]["rom"] > 0
    other = {"coap-sensor": "nodes/contiki/lib/xmpp", "xmpp-sensor": "os/net/app-layer/coap"}
    assert other[app] not in memory["modules"]  # what an app does not use costs it nothing
    assert OTHER not in memory["modules"]
