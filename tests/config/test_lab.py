"""The lab file: boards, where they are plugged in, which node each plays; every mistake is one
line naming file:line:col, as for topologies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from testbed.config.lab import Board, BoardPlatform, Lab, LabError, load_lab, parse_lab
from testbed.errors import BadInput

LABS = Path(__file__).resolve().parents[2] / "labs"


def test_the_qemu_lab_has_one_emulated_micropython_board() -> None:
    lab = load_lab(LABS / "qemu.yaml")
    (board,) = lab.boards.values()
    assert (board.name, board.platform, board.emulator, board.port, board.node) == (
        "qemu1", BoardPlatform.MICROPYTHON, "qemu-microbit", None, "s1")
    assert lab.board_for_node("s1") is board and lab.board_for_node("s2") is None
    assert lab.source == LABS / "qemu.yaml"


def test_the_desk_lab_reads_as_written() -> None:
    lab = load_lab(LABS / "desk.yaml")
    assert [b.name for b in lab.by_platform("micropython")] == ["mb1", "mb2", "mb3"]
    assert [b.name for b in lab.by_platform(BoardPlatform.CONTIKI)] == ["zoul1", "zoul2"]
    (sniffer,) = lab.by_platform(BoardPlatform.SENSNIFF)
    assert (sniffer.port, sniffer.channel, sniffer.baudrate) == ("/dev/ttyACM2", 26, 460800)
    assert lab.boards["mb3"].port == "rfc2217://labhost:4000"
    zoul = lab.boards["zoul1"]
    assert zoul.flasher is not None and "{port}" in zoul.flasher and "{image}" in zoul.flasher
    assert lab.board_for_node("r1") is zoul
    # an image is taken from the lab file's directory, not from where the command runs
    assert lab.image_path(zoul) == LABS / zoul.image
    assert lab.image_path(lab.boards["mb1"]) is None


def test_a_lab_named_by_a_relative_path_keeps_its_directory_absolute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`testbed flash --lab labs/l.yaml`: the image must name the same file in the flasher,
    which runs in the lab file's directory, as here (a relative image was labs/fw.bin, which
    the flasher then looked for in labs/labs/)."""
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "l.yaml").write_text(
        "name: l\nboards:\n  cc: {platform: contiki, port: /dev/x, image: fw.bin}\n")
    monkeypatch.chdir(tmp_path)
    lab = load_lab(Path("labs/l.yaml"))
    assert lab.source == Path("labs/l.yaml")  # messages name the file as it was given
    assert lab.directory == tmp_path.resolve() / "labs"
    monkeypatch.chdir(tmp_path / "labs")  # the working directory the flasher gets
    assert lab.image_path(lab.boards["cc"]) == tmp_path.resolve() / "labs" / "fw.bin"
    with pytest.raises(LabError, match=r"directory: unknown key 'directory'"):
        parse_lab("name: l\ndirectory: /etc\n", "l.yaml")  # not something a file can set


def test_an_absolute_image_stays_absolute(tmp_path: Path) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text("name: l\nboards:\n  cc: {platform: contiki, port: /dev/x, "
                    "image: /opt/fw.bin}\n")
    lab = load_lab(path)
    assert lab.image_path(lab.boards["cc"]) == Path("/opt/fw.bin")


def test_models_are_frozen_and_forbid_unknown_fields() -> None:
    board = Board(name="mb1", platform="micropython", port="/dev/ttyACM0")
    with pytest.raises(ValidationError):
        board.port = "/dev/ttyACM1"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        Board(name="mb1", platform="micropython", port="/dev/ttyACM0", colour="red")
    lab = Lab(name="l", boards={"mb1": board})
    assert lab.by_platform("micropython") == (board,)


BOARD = "name: x\nboards:\n"

# (id, file text, line, column, message pattern after "file:line:col: ")
CASES = [
    ("yaml-syntax", BOARD + "  mb1: {platform: micropython, port: /dev/x\n", 4, 1,
     r"\(yaml syntax\): did not find expected ',' or '}'"),
    ("not-a-mapping", "- mb1\n", 1, 1, r"\(top level\): expected a mapping with keys name, "
     r"hosts, boards \(got a list\)"),
    ("empty-file", "# nothing\n", 1, 1,
     r"\(top level\): expected a mapping .*\(got an empty file\)"),
    ("missing-name", "boards: {}\n", 1, 1, r"name: required key 'name' is missing"),
    ("unknown-top-key", "name: x\nbords: {}\n", 2, 1,
     r"bords: unknown key 'bords'; did you mean 'boards'\? \(expected name, hosts, boards\)"),
    ("unknown-board-key", BOARD + "  mb1:\n    platform: micropython\n    prot: /dev/x\n", 5, 5,
     r"boards\.mb1\.prot: unknown key 'prot'; did you mean 'port'\?"),
    ("bad-platform", BOARD + "  mb1:\n    platform: micropyton\n    port: /dev/x\n", 4, 15,
     r"boards\.mb1\.platform: expected one of micropython, contiki, sensniff "
     r"\(got 'micropyton'\); did you mean 'micropython'\?"),
    ("missing-platform", BOARD + "  mb1: {port: /dev/x}\n", 3, 8,
     r"boards\.mb1\.platform: required key 'platform' is missing"),
    ("bad-board-name", BOARD + "  MB_1: {platform: micropython, port: /dev/x}\n", 3, 3,
     r"boards\.MB_1: expected a board name of 1\.\.12 characters a-z, 0-9 and '-'"),
    ("name-in-body", BOARD + "  mb1: {name: mb2, platform: micropython, port: /dev/x}\n", 3, 9,
     r"boards\.mb1\.name: unknown key 'name': a board's name is its key under boards:"),
    ("duplicate-board", BOARD + "  mb1: {platform: micropython, port: /dev/x}\n"
     "  mb1: {platform: micropython, port: /dev/y}\n", 4, 3, r"boards\.mb1: duplicate key 'mb1'"),
    ("board-not-mapping", BOARD + "  mb1: /dev/ttyACM0\n", 3, 8,
     r"boards\.mb1: expected a mapping \(got a string\)"),
    ("no-port-no-emulator", BOARD + "  mb1: {platform: micropython}\n", 3, 3,
     r"boards\.mb1: expected a port \(/dev/ttyACM0, rfc2217://host:port\) or emulator: "
     r"qemu-microbit"),
    ("port-and-emulator", BOARD + "  mb1:\n    platform: micropython\n    port: /dev/x\n"
     "    emulator: qemu-microbit\n", 6, 5,
     r"boards\.mb1\.emulator: give either port or emulator, not both"),
    ("unknown-emulator", BOARD + "  mb1: {platform: micropython, emulator: qemu-nrf52}\n", 3, 42,
     r"boards\.mb1\.emulator: expected one of qemu-microbit, contiki-native, "
     r"medium \(got 'qemu-nrf52'\)"),
    ("emulated-contiki", BOARD + "  cc: {platform: contiki, emulator: qemu-microbit}\n", 3, 27,
     r"boards\.cc\.emulator: the qemu-microbit emulator runs micropython; this board's "
     r"platform is contiki"),
    ("native-sniffer", BOARD + "  sn: {platform: sensniff, emulator: contiki-native}\n", 3, 28,
     r"boards\.sn\.emulator: the contiki-native emulator runs contiki; this board's platform "
     r"is sensniff"),
    ("unknown-host", BOARD + "  mb1: {platform: micropython, host: labp, port: 'rfc2217://a:1'}\n",
     3, 38, r"boards\.mb1\.host: no such host 'labp' \(hosts: none\)"),
    ("bad-ssh", "name: d\nhosts:\n  labpi: {ssh: labpi}\n", 3, 16,
     r"hosts\.labpi\.ssh: expected user@host or user@host:port"),
    ("host-name-key", "name: d\nhosts:\n  labpi: {name: x, ssh: a@b}\n", 3, 11,
     r"hosts\.labpi\.name: unknown key 'name': a host's name is its key under hosts:"),
    ("relative-lease-dir", "name: d\nhosts:\n  pi: {ssh: a@pi, leases: leases}\n", 3, 27,
     r"hosts\.pi\.leases: expected an absolute directory path on the host, such as "
     r"/srv/testbed/leases \(got 'leases'\)"),
    ("remote-device-path", "name: d\nhosts:\n  pi: {ssh: a@pi}\nboards:\n"
     "  mb1: {platform: micropython, host: pi, port: /dev/ttyACM0}\n", 5, 48,
     r"boards\.mb1\.port: board on host pi: expected a pyserial URL"),
    ("device-without-host", BOARD + "  mb1: {platform: micropython, port: /dev/a, device: /dev/b}\n",
     3, 46, r"boards\.mb1\.device: device is the board's serial device on its lab host"),
    ("make-not-contiki", BOARD + "  mb1: {platform: micropython, port: /dev/a, make: {X: y}}\n",
     3, 46, r"boards\.mb1\.make: make is for contiki boards only"),
    ("reserved-make", BOARD + "  cc: {platform: contiki, port: /dev/a, make: {TARGET: zoul}}\n",
     3, 47, r"boards\.cc\.make: TARGET: the testbed sets it itself"),
    ("bad-port", BOARD + "  mb1: {platform: micropython, port: ttyACM0}\n", 3, 38,
     r"boards\.mb1\.port: expected a serial device path such as /dev/ttyACM0 or a pyserial "
     r"URL such as rfc2217://labhost:4000 \(got 'ttyACM0'\)"),
    ("bad-node-name", BOARD + "  mb1: {platform: micropython, port: /dev/x, node: Sensor_1}\n",
     3, 52, r"boards\.mb1\.node: expected a node name of 1\.\.12 characters"),
    ("node-twice", BOARD + "  mb1: {platform: micropython, port: /dev/x, node: s1}\n"
     "  mb2: {platform: micropython, port: /dev/y, node: s1}\n", 4, 52,
     r"boards\.mb2\.node: node 's1' is played by board 'mb1' already"),
    ("bad-baudrate", BOARD + "  mb1: {platform: micropython, port: /dev/x, baudrate: fast}\n",
     3, 56, r"boards\.mb1\.baudrate: expected a baud rate such as 115200 \(got 'fast'\)"),
    ("flasher-shell-string", BOARD + "  cc:\n    platform: contiki\n    port: /dev/x\n"
     "    image: fw.bin\n    flasher: 'cc2538-bsl.py -p {port} {image}'\n", 7, 14,
     r"boards\.cc\.flasher: expected an argv list such as \[cc2538-bsl\.py, -p, '\{port\}', "
     r"'\{image\}'\], never a shell string"),
    ("flasher-unknown-placeholder", BOARD + "  cc:\n    platform: contiki\n    port: /dev/x\n"
     "    image: fw.bin\n    flasher: [flash, '{img}']\n", 7, 14,
     r"boards\.cc\.flasher: unknown placeholder \{img\} in '\{img\}'; did you mean 'image'\? "
     r"\(known: \{image\}, \{port\}, \{python\}\)"),
    ("flasher-empty-argument", BOARD + "  cc: {platform: contiki, port: /dev/x, "
     "flasher: [flash, '']}\n", 3, 50,
     r"boards\.cc\.flasher: expected every argument to be non-empty text"),
    ("flasher-without-image", BOARD + "  cc:\n    platform: contiki\n    port: /dev/x\n"
     "    flasher: [flash, '{image}']\n", 6, 5,
     r"boards\.cc\.flasher: the flasher uses \{image\} but the board has no image"),
    ("flasher-on-micropython", BOARD + "  mb1:\n    platform: micropython\n    port: /dev/x\n"
     "    flasher: [flash]\n", 6, 5,
     r"boards\.mb1\.flasher: flasher is for contiki boards only \(this board's platform is "
     r"micropython\)"),
    ("channel-on-contiki", BOARD + "  cc:\n    platform: contiki\n    port: /dev/x\n"
     "    channel: 26\n", 6, 5, r"boards\.cc\.channel: channel is for sensniff boards only"),
    ("bad-channel", BOARD + "  sn: {platform: sensniff, port: /dev/x, channel: 27}\n", 3, 51,
     r"boards\.sn\.channel: expected a 2\.4 GHz channel 11\.\.26 \(got 27\)"),
    ("bad-meter-kind", BOARD + "  cc:\n    platform: contiki\n    port: /dev/x\n"
     "    meter: {kind: ppk3, port: /dev/y}\n", 6, 19,
     r"boards\.cc\.meter\.kind: expected one of ppk2, serial-lines \(got 'ppk3'\); "
     r"did you mean 'ppk2'\?"),
    ("meter-without-port", BOARD + "  cc:\n    platform: contiki\n    port: /dev/x\n"
     "    meter: {kind: ppk2}\n", 6, 12, r"boards\.cc\.meter\.port: required key 'port'"),
    ("meter-voltage", BOARD + "  cc:\n    platform: contiki\n    port: /dev/x\n"
     "    meter: {kind: ppk2, port: /dev/y, voltage_v: 9}\n", 6, 50,
     r"boards\.cc\.meter\.voltage_v: expected the supply voltage in volts, 0\.8\.\.5\.0"),
    ("quiet-shell-string", BOARD + "  cc:\n    platform: contiki\n    port: /dev/x\n"
     "    quiet: 'cc2538-bsl.py -p /dev/x'\n", 6, 12,
     r"boards\.cc\.quiet: expected an argv list .*never a shell string"),
    ("meter-on-sniffer", BOARD + "  sn:\n    platform: sensniff\n    port: /dev/x\n"
     "    meter: {kind: ppk2, port: /dev/y}\n", 6, 5,
     r"boards\.sn\.meter: meter is for contiki boards only"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_kind_of_bad_lab_is_one_located_line(case: tuple[str, str, int, int, str],
                                                    tmp_path: Path) -> None:
    ident, text, line, column, pattern = case
    path = tmp_path / f"{ident}.yaml"
    path.write_text(text)
    with pytest.raises(LabError) as caught:
        load_lab(path)
    message = str(caught.value)
    assert "\n" not in message
    assert re.match(rf"{re.escape(str(path))}:{line}:{column}: {pattern}", message), message
    assert isinstance(caught.value, BadInput) and caught.value.exit_status == 2


def test_the_error_first_in_the_file_is_reported() -> None:
    text = (BOARD + "  mb1: {platform: micropython, port: bad}\n"
            "  mb2: {platform: micropyton, port: /dev/x}\n")
    with pytest.raises(LabError, match=r"^lab\.yaml:3:\d+: boards\.mb1\.port: "):
        parse_lab(text, "lab.yaml")


def test_an_unreadable_lab_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(LabError, match=r"nope\.yaml: cannot read lab file: No such file"):
        load_lab(tmp_path / "nope.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(LabError, match=r"latin\.yaml: not UTF-8 text \(byte offset 9\)"):
        load_lab(latin)


def test_a_flasher_template_keeps_its_arguments_apart() -> None:
    lab = parse_lab(BOARD + "  cc:\n    platform: contiki\n    port: rfc2217://labhost:4000\n"
                    "    image: fw.bin\n    flasher: [make, TARGET=zoul, 'PORT={port}', "
                    "'{image}']\n")
    assert lab.boards["cc"].flasher == ("make", "TARGET=zoul", "PORT={port}", "{image}")


def test_an_empty_boards_section_is_a_lab_without_boards() -> None:
    assert parse_lab("name: empty\nboards:\n").boards == {}
