"""The lab file: which real boards a lab has, where each is plugged in, which node it plays.

A lab is plain, frozen data (pydantic, `extra="forbid"`, `frozen=True`), the counterpart of a
topology: the topology says what the network is, the lab says which hardware (or emulated
hardware) stands in for some of its nodes. Reaching a board is a backend's job
(testbed/backends/boards.py), writing firmware to it another (testbed/backends/flash.py).

    name: desk
    boards:
      mb1: {platform: micropython, port: /dev/ttyACM0, node: s1}
      qemu1: {platform: micropython, emulator: qemu-microbit, node: s2}
      cc1:
        platform: contiki
        port: rfc2217://labhost:4000
        image: build/zoul/coap-sensor.bin        # relative to the lab file
        flasher: [cc2538-bsl.py, -e, -w, -v, -p, "{port}", "{image}"]
      sniff: {platform: sensniff, port: /dev/ttyUSB1, channel: 26, baudrate: 460800}

Boards on another lab host name it (`host:`); the host is reached over SSH (fabric, key
auth, strict host keys), its boards' serial ports over RFC 2217 (ser2net there):

    hosts:
      labpi: {ssh: tester@labpi, known_hosts: known_hosts, identity: ~/.ssh/id_ed25519}
    boards:
      mb3: {platform: micropython, host: labpi, port: "rfc2217://labpi:4000",
            device: /dev/ttyACM0, node: s3}

Emulated boards stand in where there is no hardware: `qemu-microbit` (MicroPython in QEMU),
`contiki-native` (Contiki-NG firmware for the medium platform behind a pty, with a serial
bootloader: testbed/backends/native_board.py) and, for a sniffer, `medium` (the emulated
medium's sensniff tap).

Every mistake is ONE line naming the place, as for topologies (testbed/config/yamlmarks.py):

    lab.yaml:6:15: boards.mb1.platform: expected one of micropython, contiki, sensniff ...

A flasher is an argv list, never a shell string: `{image}` and `{port}` are replaced inside
the argument that holds them, and each argument stays exactly one argument.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from testbed.config.topology import NODE_NAME, NODE_NAME_MAX
from testbed.config.yamlmarks import (
    MarkedDocument,
    Position,
    did_you_mean,
    dotted,
    load_marked,
    one_line,
    yaml_kind,
)
from testbed.errors import LabError, TopologyError

#: what a flasher template may name; anything else in braces is a mistake in the lab file
PLACEHOLDERS = ("image", "port", "python")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+")  # pyserial URLs: rfc2217://, socket://, loop://
_SSH = re.compile(r"[A-Za-z0-9._-]{1,32}@[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?")
_MAKE_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
_MAKE_VALUE = re.compile(r"[A-Za-z0-9_.+/-]{1,64}")
#: make variables the build sets itself (testbed/contiki/build.py RESERVED says the same)
MAKE_RESERVED = frozenset({"TARGET", "BUILD_DIR", "CONTIKI", "TARGETDIRS", "CFLAGS", "LDFLAGS",
                            "RELSTR", "CONTIKI_PROJECT"})
#: emulated boards, by the platform they run
EMULATORS = {"qemu-microbit": "micropython", "contiki-native": "contiki", "medium": "sensniff"}


class BoardPlatform(StrEnum):
    """What a board runs: MicroPython (apps deployed as .py files), Contiki(-NG) firmware, or
    the sensniff sniffer firmware."""

    MICROPYTHON = "micropython"
    CONTIKI = "contiki"
    SENSNIFF = "sensniff"


# --- field checks: ValueError with what was expected; pydantic adds the path ---------------


def _got(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _name(what: str) -> Any:
    def check(value: Any) -> Any:
        if value is None and what == "node":
            return None
        if not isinstance(value, str) or not NODE_NAME.fullmatch(value):
            raise ValueError(f"expected a {what} name of 1..{NODE_NAME_MAX} characters a-z, 0-9 "
                             f"and '-' (got {_got(value)})")
        return value

    return check


def _port(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or not (value.startswith("/") or _URL.fullmatch(value)):
        raise ValueError("expected a serial device path such as /dev/ttyACM0 or a pyserial URL "
                         f"such as rfc2217://labhost:4000 (got {_got(value)})")
    return value


def _baudrate(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 50 <= value <= 12_000_000:
        raise ValueError(f"expected a baud rate such as 115200 (got {_got(value)})")
    return value


def _flasher(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        raise ValueError("expected an argv list such as [cc2538-bsl.py, -p, '{port}', "
                         "'{image}'], never a shell string")
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"expected a non-empty argv list (got {_got(value)})")
    for argument in value:
        if not isinstance(argument, str) or not argument:
            raise ValueError(f"expected every argument to be non-empty text (got {_got(argument)})")
        for name in _PLACEHOLDER.findall(argument):
            if name not in PLACEHOLDERS:
                raise ValueError(f"unknown placeholder {{{name}}} in {argument!r}"
                                 f"{did_you_mean(name, PLACEHOLDERS)} (known: "
                                 f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
    return tuple(value)


def _image(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a firmware file path (got {_got(value)})")
    return value


def _channel(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 11 <= value <= 26:
        raise ValueError(f"expected a 2.4 GHz channel 11..26 (got {_got(value)})")
    return value


def _ssh(value: Any) -> str:
    if not isinstance(value, str) or not _SSH.fullmatch(value):
        raise ValueError("expected user@host or user@host:port, e.g. tester@labpi "
                         f"(got {_got(value)})")
    return value


def _file(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise ValueError(f"expected a file path (got {_got(value)})")
    return value


def _device(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"/[A-Za-z0-9._/+-]+", value):
        raise ValueError("expected the board's device path on its host, such as /dev/ttyUSB0 "
                         f"(got {_got(value)})")
    return value


def _lease_dir(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"/[A-Za-z0-9._/+-]*", value) \
            or "/../" in f"{value}/":
        raise ValueError("expected an absolute directory path on the host, such as "
                         f"/srv/testbed/leases (got {_got(value)})")
    return value.rstrip("/") or "/"


def _make_variables(value: Any) -> Any:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping of make variables such as {{BOARD: remote-revb}} "
                         f"(got {_got(value)})")
    for name, setting in value.items():
        if not isinstance(name, str) or not _MAKE_NAME.fullmatch(name):
            raise ValueError(f"expected an upper-case make variable name (got {_got(name)})")
        if name in MAKE_RESERVED:
            raise ValueError(f"{name}: the testbed sets it itself (target: and the build's "
                             "own folders); give only variables such as BOARD")
        if not isinstance(setting, str | int) or not _MAKE_VALUE.fullmatch(str(setting)):
            raise ValueError(f"{name}: expected letters, digits and _.+/- (got {_got(setting)})")
    return {name: str(setting) for name, setting in value.items()}


def _lab_name(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", value):
        raise ValueError("expected a lab name of 1..64 characters A-Z, a-z, 0-9, '.', '_' and "
                         f"'-', starting with a letter or digit (got {_got(value)})")
    return value


_FROZEN = ConfigDict(extra="forbid", frozen=True)


class Host(BaseModel):
    """A lab host other boards hang off: reached over SSH, key auth only, strict host keys."""

    model_config = _FROZEN

    name: Annotated[str, BeforeValidator(_name("host"))]
    #: user@host[:port]
    ssh: Annotated[str, BeforeValidator(_ssh)]
    #: the private key to authenticate with (relative to the lab file); None: ssh-agent and
    #: the user's default keys
    identity: Annotated[str | None, BeforeValidator(_file)] = None
    #: the known_hosts file holding the host's key (relative to the lab file); None: the
    #: user's ~/.ssh/known_hosts. An unknown or changed key is refused, never accepted.
    known_hosts: Annotated[str | None, BeforeValidator(_file)] = None
    #: the lease directory ON the host (absolute; shared by every user who drives its boards);
    #: None: /run/testbed/leases for root or when writable there, else ~/.local/state/testbed/leases
    leases: Annotated[str | None, BeforeValidator(_lease_dir)] = None

    @property
    def user(self) -> str:
        return self.ssh.split("@", 1)[0]

    @property
    def address(self) -> str:
        return self.ssh.split("@", 1)[1].rsplit(":", 1)[0]

    @property
    def ssh_port(self) -> int:
        rest = self.ssh.split("@", 1)[1]
        return int(rest.rsplit(":", 1)[1]) if ":" in rest else 22


def _volts(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.8 <= value <= 5.0:
        raise ValueError(f"expected the supply voltage in volts, 0.8..5.0 (got {_got(value)})")
    return float(value)


class Meter(BaseModel):
    """The power meter on a board's supply: a Nordic PPK2 (source meter: it powers the board
    at `voltage_v`) or a meter whose firmware prints `<t_s> <current_mA> <bus_V>` lines
    (INA219/INA226 style, testbed/energy/meters.py) on a serial port."""

    model_config = _FROZEN

    kind: Literal["ppk2", "serial-lines"]
    #: /dev/ttyACM1, or rfc2217://host:port for a meter on a lab host
    port: Annotated[str, BeforeValidator(_port)]
    #: ppk2: the voltage it supplies the board with
    voltage_v: Annotated[float, BeforeValidator(_volts)] = 3.0


class Board(BaseModel):
    """One board of the lab. Its name is its key under `boards:` in the file."""

    model_config = _FROZEN

    name: Annotated[str, BeforeValidator(_name("board"))]
    platform: BoardPlatform
    #: /dev/ttyACM0, rfc2217://host:port (a board on another lab host), or None with an emulator
    port: Annotated[str | None, BeforeValidator(_port)] = None
    #: an emulated board (no port needed): qemu-microbit (MicroPython), contiki-native
    #: (Contiki-NG for the medium platform), medium (the medium's sensniff tap)
    emulator: Literal["qemu-microbit", "contiki-native", "medium"] | None = None
    #: the lab host the board is plugged into (a key under hosts:); None: this machine
    host: Annotated[str | None, BeforeValidator(_name("host"))] = None
    #: the board's serial device on its host (flashers run there take it as {port})
    device: Annotated[str | None, BeforeValidator(_device)] = None
    #: contiki: the Contiki-NG target the testbed builds the node's app for, and make variables
    target: Literal["zoul", "cc2538dk", "medium"] | None = None
    make: Annotated[dict[str, str], BeforeValidator(_make_variables)] = {}
    #: the topology node this board plays
    node: Annotated[str | None, BeforeValidator(_name("node"))] = None
    baudrate: Annotated[int, BeforeValidator(_baudrate)] = 115200
    #: contiki: argv template with {image} and {port}; never a shell string
    flasher: Annotated[tuple[str, ...] | None, BeforeValidator(_flasher)] = None
    #: contiki: firmware file, relative to the lab file
    image: Annotated[str | None, BeforeValidator(_image)] = None
    #: sensniff: the channel to tune the sniffer to
    channel: Annotated[int | None, BeforeValidator(_channel)] = None
    #: contiki: the power meter on the board's supply, sampled while each variant runs
    meter: Meter | None = None
    #: contiki: argv template ({port}, {python}) that silences the board after each variant
    #: (e.g. cc2538-bsl entering the ROM bootloader, a hub port switched off); without it a
    #: board keeps running the variant's firmware, on the air, until it is flashed again
    quiet: Annotated[tuple[str, ...] | None, BeforeValidator(_flasher)] = None


class Lab(BaseModel):
    """A lab's boards, in file order."""

    model_config = _FROZEN

    name: Annotated[str, BeforeValidator(_lab_name)]
    hosts: dict[str, Host] = {}
    boards: dict[str, Board] = {}
    #: the file as it was named (what messages show), None for a lab parsed from text
    source: Path | None = None
    #: the file's directory, made absolute when it was read: relative images and the
    #: flasher's working directory both hang from it, whatever the working directory is later
    directory: Path | None = None

    def by_platform(self, platform: BoardPlatform | str) -> tuple[Board, ...]:
        """The boards running `platform`, in file order."""
        wanted = BoardPlatform(platform)
        return tuple(b for b in self.boards.values() if b.platform is wanted)

    def board_for_node(self, node: str) -> Board | None:
        """The board that plays topology node `node`, or None (the node stays emulated)."""
        return next((b for b in self.boards.values() if b.node == node), None)

    def image_path(self, board: Board) -> Path | None:
        """The board's firmware image, relative paths taken from the lab file's directory
        (absolute, so it names the same file in the flasher, which runs in that directory)."""
        if board.image is None:
            return None
        path = Path(board.image).expanduser()
        if not path.is_absolute() and self.directory is not None:
            path = self.directory / path
        return path

    @model_validator(mode="after")
    def _whole_lab(self) -> Lab:
        for path, message, at_key in _semantic_issues(self):
            raise PydanticCustomError(
                "lab", "{path}: {message}",
                {"path": dotted(path), "message": message, "at": (path, at_key)},
            )
        return self


Issue = tuple[tuple[str | int, ...], str, bool]  # (path, what was expected, point at the key?)


def _semantic_issues(lab: Lab) -> Iterator[Issue]:
    """Checks across a board's fields and across boards, in file order."""
    for key, host in lab.hosts.items():
        if host.name != key:
            yield ("hosts", key, "name"), f"expected the host's name to equal its key {key!r}", True
    played: dict[str, str] = {}
    for key, board in lab.boards.items():
        at = ("boards", key)
        if board.name != key:
            yield (*at, "name"), f"expected the board's name to equal its key {key!r}", True
        if board.port is None and board.emulator is None:
            how = ("a port (/dev/ttyACM0, rfc2217://host:port) or emulator: qemu-microbit"
                   if board.platform is BoardPlatform.MICROPYTHON
                   else "a port (/dev/ttyACM0, rfc2217://host:port)")
            yield at, f"expected {how}", True
        if board.port is not None and board.emulator is not None:
            yield (*at, "emulator"), "give either port or emulator, not both", True
        if board.emulator is not None and str(board.platform) != EMULATORS[board.emulator]:
            yield (*at, "emulator"), (f"the {board.emulator} emulator runs "
                                      f"{EMULATORS[board.emulator]}; this board's platform is "
                                      f"{board.platform}"), True
        if board.host is not None:
            if board.host not in lab.hosts:
                known = tuple(lab.hosts)
                yield (*at, "host"), (f"no such host {board.host!r}"
                                      f"{did_you_mean(board.host, known)} (hosts: "
                                      f"{', '.join(known) if known else 'none'})"), False
            if board.emulator is not None:
                yield (*at, "host"), ("an emulated board runs on this machine; give its host "
                                      "a real board"), False
            if board.meter is not None and not _URL.fullmatch(board.meter.port):
                yield (*at, "meter", "port"), (
                    f"board on host {board.host}: expected a pyserial URL reaching its meter "
                    f"from here, such as rfc2217://{board.host}:4001 (ser2net there)"), False
            if board.port is not None and not _URL.fullmatch(board.port):
                yield (*at, "port"), (f"board on host {board.host}: expected a pyserial URL "
                                      "reaching it from here, such as "
                                      f"rfc2217://{board.host}:4000 (ser2net there)"), False
        elif board.device is not None:
            yield (*at, "device"), ("device is the board's serial device on its lab host; "
                                    "a board on this machine gives it as port"), True
        if board.emulator == "contiki-native" and board.target not in (None, "medium"):
            yield (*at, "target"), ("a contiki-native board runs firmware for the medium "
                                    "platform (target: medium)"), False
        for field, platform in (("flasher", BoardPlatform.CONTIKI),
                                ("image", BoardPlatform.CONTIKI),
                                ("target", BoardPlatform.CONTIKI),
                                ("channel", BoardPlatform.SENSNIFF),
                                ("meter", BoardPlatform.CONTIKI),
                                ("quiet", BoardPlatform.CONTIKI)):
            if getattr(board, field) is not None and board.platform is not platform:
                yield (*at, field), (f"{field} is for {platform} boards only (this board's "
                                     f"platform is {board.platform})"), True
        if board.make and board.platform is not BoardPlatform.CONTIKI:
            yield (*at, "make"), (f"make is for contiki boards only (this board's platform is "
                                  f"{board.platform})"), True
        builds = board.target is not None or board.emulator == "contiki-native"
        if board.flasher is not None and board.image is None and not builds and any(
                "{image}" in argument for argument in board.flasher):
            yield (*at, "flasher"), "the flasher uses {image} but the board has no image", True
        if board.node is not None:
            if board.node in played:
                yield (*at, "node"), (f"node {board.node!r} is played by board "
                                      f"{played[board.node]!r} already"), False
            played[board.node] = key


# --- from a file ------------------------------------------------------------------------------

_TOP_KEYS = ("name", "hosts", "boards")
_KNOWN_KEYS = {"boards": tuple(k for k in Board.model_fields if k != "name"),
               "hosts": tuple(k for k in Host.model_fields if k != "name")}


def load_lab(path: str | Path) -> Lab:
    """Read and check a lab file; raise `LabError` naming file:line:col on any mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabError(f"{path}: cannot read lab file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise LabError(f"{path}: not UTF-8 text (byte offset {exc.start})") from None
    return parse_lab(text, str(path)).model_copy(
        update={"source": path, "directory": path.resolve().parent})


def parse_lab(text: str, source: str = "<string>") -> Lab:
    """Parse lab YAML `text`; `source` is the file name shown in error messages."""
    try:
        document = load_marked(text, source)
    except TopologyError as exc:  # yamlmarks speaks for topologies; the message is the same
        raise LabError(str(exc)) from None
    raw = document.data
    if not isinstance(raw, dict):
        kind = "an empty file" if raw is None else yaml_kind(raw)
        raise _error(document, (), f"expected a mapping with keys {', '.join(_TOP_KEYS)} "
                                   f"(got {kind})")
    data = _normalise(document, raw)
    try:
        return Lab.model_validate(data)
    except ValidationError as exc:
        raise _first_error(document, exc) from None


def _error(document: MarkedDocument, path: tuple[str | int, ...], message: str, *,
           key: bool = False) -> LabError:
    return _located(document.position(path, key=key), dotted(path), message)


def _located(position: Position, shown: str, message: str) -> LabError:
    return LabError(one_line(f"{position}: {shown}: {message}"))


def _normalise(document: MarkedDocument, raw: dict[Any, Any]) -> dict[str, Any]:
    """File shape -> model shape: board names come from keys, an empty section is no boards."""
    for key in raw:
        if key not in _TOP_KEYS:
            raise _error(document, (key,), f"unknown key {key!r}{did_you_mean(key, _TOP_KEYS)} "
                                           f"(expected {', '.join(_TOP_KEYS)})", key=True)
    data = {k: v for k, v in raw.items() if v is not None or k == "name"}
    for section, what in (("hosts", "host"), ("boards", "board")):
        entries = raw.get(section)
        if isinstance(entries, dict):
            shaped = {}
            for name, body in entries.items():
                if isinstance(body, dict):
                    if "name" in body:
                        raise _error(document, (section, name, "name"),
                                     f"unknown key 'name': a {what}'s name is its key under "
                                     f"{section}:", key=True)
                    body = {"name": name, **body}
                shaped[str(name)] = body
            data[section] = shaped
    return data


def _message(error: dict[str, Any]) -> str:
    """What was expected, in the file's words, for one pydantic error."""
    kind, loc, value, ctx = error["type"], error["loc"], error.get("input"), error.get("ctx") or {}
    if kind == "extra_forbidden":
        known = _KNOWN_KEYS.get(str(loc[0]), ())
        return (f"unknown key {loc[-1]!r}{did_you_mean(loc[-1], known)} "
                f"(expected {', '.join(known)})")
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing"
    if kind in ("enum", "literal_error"):
        choices = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        return (f"expected one of {', '.join(choices)} (got {_got(value)})"
                f"{did_you_mean(value, choices)}")
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (got {yaml_kind(value)})"
    return f"{error['msg']} (got {_got(value)})"


def _first_error(document: MarkedDocument, exc: ValidationError) -> LabError:
    """The error that comes first in the file, as one located line."""
    located: list[tuple[tuple[int, int], Position, str, str]] = []
    for error in exc.errors(include_url=False):
        ctx = error.get("ctx") or {}
        if error["type"] == "lab":
            path, at_key = ctx["at"]
            message = ctx["message"]
        else:
            path, at_key = tuple(error["loc"]), error["type"] == "extra_forbidden"
            message = _message(error)
        path = tuple(path)
        if len(path) >= 3 and path[0] in ("boards", "hosts") and path[2] == "name":
            path, at_key = path[:2], True  # the name is the key under boards: or hosts:
        elif len(path) == 2 and path[0] in ("boards", "hosts") and error["type"] == "missing":
            at_key = True
        position = document.position(path, key=at_key)
        located.append(((position.line, position.column), position, dotted(path), message))
    _, position, shown, message = min(located, key=lambda item: item[0])
    return _located(position, shown, message)
