"""The topology file: which nodes exist, how their radios hear each other, who is the border router.

A topology is plain, frozen data (pydantic models, `extra="forbid"`, `frozen=True`); bringing
it up is a backend's job. `load_topology` reads a YAML file and turns every mistake in it into
ONE line a person can act on:

    lossy.yaml:7:14: links.1.prr: expected a packet reception ratio 0 < prr <= 1 (got 1.5)

Field-level checks are pydantic validators; whole-topology checks (links name known nodes,
exactly one border router, every node can reach it, short addresses are unique) run after the
fields, and each names the path of the value at fault so the YAML position can be found.

This module is not a router: the route-over tree toward the border router is `routes.py`.
"""

from __future__ import annotations

import ipaddress
import math
import re
import sys
from collections.abc import Iterator
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from testbed.config.yamlmarks import (
    MarkedDocument,
    Position,
    did_you_mean,
    dotted,
    load_marked,
    located_error,
    yaml_kind,
)
from testbed.errors import TopologyError

NODE_NAME = re.compile(r"[a-z0-9-]{1,12}")
NODE_NAME_MAX = 12  # "tb-<6 hex run id>-<name>" must fit a 15-character interface name budget
MAX_SHORT = 0xFFFD  # 0xfffe = "no short address", 0xffff = broadcast (IEEE 802.15.4 §7.2.1)
MAX_PAN_ID = 0xFFFE  # 0xffff is the broadcast PAN ID


class Role(StrEnum):
    """What a node does in the route-over network."""

    BORDER_ROUTER = "border-router"
    ROUTER = "router"
    SENSOR = "sensor"


class Platform(StrEnum):
    """What a node runs on. `emulated`: a Linux network namespace (Linux's IPv6 and TCP, the
    Python apps); `contiki`: Contiki-NG firmware on the emulated air (uIPv6, sicslowpan, CSMA,
    RPL, the C apps of nodes/contiki/); `micropython`: a MicroPython board of a lab."""

    EMULATED = "emulated"
    MICROPYTHON = "micropython"
    CONTIKI = "contiki"


class Addressing(StrEnum):
    """IEEE 802.15.4 addressing mode used for data frames: 16-bit short or 64-bit extended."""

    SHORT = "short"
    EXTENDED = "extended"


# --- field checks: each raises ValueError with what was expected, pydantic adds the path ----


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    """A number that is finite as a float: not inf/nan, and no int beyond float range
    (math.isfinite(10**400) raises OverflowError)."""
    return _is_number(value) and (isinstance(value, int) and abs(value) <= sys.float_info.max
                                  or isinstance(value, float) and math.isfinite(value))


def _got(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _channel(value: Any) -> int:
    # IEEE 802.15.4 2.4 GHz O-QPSK PHY: channels 11..26 (802.15.4-2006 §6.1.2)
    if not isinstance(value, int) or isinstance(value, bool) or not 11 <= value <= 26:
        raise ValueError(f"expected a 2.4 GHz channel 11..26 (got {_got(value)})")
    return value


def _pan_id(value: Any) -> int:
    expected = "expected a 16-bit PAN ID 0x0000..0xfffe, as an integer or a hex string like '0xabcd'"
    if isinstance(value, str):
        if not re.fullmatch(r"0[xX][0-9a-fA-F]{1,4}", value.strip()):
            raise ValueError(f"{expected} (got {_got(value)})")
        value = int(value.strip(), 16)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_PAN_ID:
        raise ValueError(f"{expected} (got {_got(value)})")
    return value


def _prefix(value: Any) -> ipaddress.IPv6Network:
    expected = "expected an IPv6 /64 prefix such as fd00::/64"
    try:
        network = ipaddress.IPv6Network(value) if isinstance(value, str | ipaddress.IPv6Network) else None
    except ValueError:
        network = None
    if network is None:
        raise ValueError(f"{expected} (got {_got(value)})")
    if network.prefixlen != 64:  # RFC 4944 §6 / RFC 6282: the IID is the last 64 bits
        raise ValueError(
            f"{expected} (got a /{network.prefixlen}: 6LoWPAN derives the last 64 bits from the MAC)"
        )
    return network


def _positive_number(what: str) -> Any:
    def check(value: Any) -> Any:
        if value is None:
            return None
        if not _is_finite(value) or value <= 0:
            raise ValueError(f"expected {what} > 0 (got {_got(value)})")
        return float(value)

    return check


def _queue(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1024:
        raise ValueError(f"expected a queue length 1..1024 datagrams (got {_got(value)})")
    return value


def _position(value: Any) -> Any:
    if value is None:
        return None
    if (
        not isinstance(value, list | tuple)
        or len(value) not in (2, 3)
        or not all(_is_finite(v) for v in value)
    ):
        raise ValueError(
            f"expected a position of 2 or 3 numbers, [x, y] or [x, y, z] in metres (got {_got(value)})"
        )
    return tuple(float(v) for v in value)


def _short_address(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"0[xX][0-9a-fA-F]{1,4}", value.strip()):
        value = int(value.strip(), 16)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SHORT:
        raise ValueError(f"expected a 16-bit short address 1..{MAX_SHORT:#06x} (got {_got(value)})")
    return value


def _prr(value: Any) -> float:
    if not _is_number(value):
        raise ValueError(f"expected a number, the packet reception ratio 0 < prr <= 1 (got {_got(value)})")
    if not 0 < value <= 1:
        raise ValueError(f"expected a packet reception ratio 0 < prr <= 1 (got {_got(value)})")
    return float(value)


TOPOLOGY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _topology_name(value: Any) -> str:
    """It names run manifests and report titles: plain characters only."""
    if not isinstance(value, str) or not TOPOLOGY_NAME.fullmatch(value):
        raise ValueError(
            "expected a topology name of 1..64 characters A-Z, a-z, 0-9, '.', '_' and '-', "
            f"starting with a letter or digit (got {_got(value)})"
        )
    return value


#: Names the emulated backend gives its own namespaces: a node may not take them.
RESERVED_NAMES = frozenset({"cloud"})


def _node_name(value: Any) -> str:
    if not isinstance(value, str) or not NODE_NAME.fullmatch(value):
        raise ValueError(
            f"expected a node name of 1..{NODE_NAME_MAX} characters a-z, 0-9 and '-' "
            f"(it becomes part of namespace and interface names; got {_got(value)})"
        )
    if value in RESERVED_NAMES:
        raise ValueError(
            f"expected another name: {value!r} is the namespace behind the border router "
            "(the cloud where servers run)"
        )
    return value


_FROZEN = ConfigDict(extra="forbid", frozen=True)


class Radio(BaseModel):
    """The PAN every node shares: IEEE 802.15.4 channel, PAN ID, addressing and the IPv6 prefix."""

    model_config = _FROZEN

    channel: Annotated[int, BeforeValidator(_channel)] = 26
    pan_id: Annotated[int, BeforeValidator(_pan_id)] = 0xABCD
    addressing: Addressing = Addressing.SHORT
    prefix: Annotated[ipaddress.IPv6Network, BeforeValidator(_prefix)] = ipaddress.IPv6Network("fd00::/64")
    range: Annotated[float | None, BeforeValidator(_positive_number("a unit-disk range in metres"))] = None
    queue: Annotated[int, BeforeValidator(_queue)] = 16


class Cloud(BaseModel):
    """The network behind the border router, where servers and sinks live."""

    model_config = _FROZEN

    prefix: Annotated[ipaddress.IPv6Network, BeforeValidator(_prefix)] = ipaddress.IPv6Network("fd01::/64")


class Node(BaseModel):
    """One node of the PAN. Its name is its key under `nodes:` in the file."""

    model_config = _FROZEN

    name: Annotated[str, BeforeValidator(_node_name)]
    role: Role = Role.SENSOR
    #: None: the topology's `platform`
    platform: Platform | None = None
    position: Annotated[
        tuple[float, float] | tuple[float, float, float] | None, BeforeValidator(_position)
    ] = None
    short_address: Annotated[int | None, BeforeValidator(_short_address)] = None


class Link(BaseModel):
    """An undirected radio link with its packet reception ratio (PRR, per frame, each way).

    Written in a file as `[a, b]`, `[a, b, {prr: 0.9}]` or `{a: a, b: b, prr: 0.9}`.
    """

    model_config = _FROZEN

    a: str
    b: str
    prr: Annotated[float, BeforeValidator(_prr)] = 1.0

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            if len(value) == 2:
                return {"a": value[0], "b": value[1]}
            if len(value) == 3 and isinstance(value[2], dict):
                return {"a": value[0], "b": value[1], **value[2]}
            raise ValueError(f"expected a link [a, b] or [a, b, {{prr: 0.9}}] (got {_got(value)})")
        return value

    def key(self) -> frozenset[str]:
        """The link's identity regardless of direction: {a, b}."""
        return frozenset((self.a, self.b))


class Topology(BaseModel):
    """A whole network: the PAN's radio settings, the nodes in file order and their links."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, BeforeValidator(_topology_name)]
    #: Every node's platform unless the node names its own.
    platform: Platform = Platform.EMULATED
    radio: Radio = Radio()
    cloud: Cloud = Cloud()
    nodes: dict[str, Node]
    links: tuple[Link, ...] = ()
    source: Path | None = None

    @property
    def border_router(self) -> str:
        """Name of the one node whose role is border-router."""
        return next(n for n, node in self.nodes.items() if node.role is Role.BORDER_ROUTER)

    def platform_of(self, name: str) -> Platform:
        """What node `name` runs on: its own `platform`, else the topology's."""
        node = self.nodes[name]
        return node.platform if node.platform is not None else self.platform

    def on_platform(self, platform: Platform | str) -> Topology:
        """The same network with every node on `platform` (`testbed compare --platform`)."""
        data = self.model_dump()
        data["platform"] = Platform(platform)
        for node in data["nodes"].values():
            node["platform"] = None
        return Topology.model_validate(data)

    @property
    def pan_platform(self) -> Platform:
        """The platform of the PAN: the border router's (a PAN has one, see _semantic_issues)."""
        return self.platform_of(self.border_router)

    def short_address(self, name: str) -> int:
        """The node's IEEE 802.15.4 short address: explicit, else its 1-based place in file order."""
        return self._short_addresses[name]

    def neighbours(self, name: str) -> dict[str, float]:
        """Nodes `name` hears directly -> packet reception ratio of that link."""
        if name not in self.nodes:
            raise KeyError(name)
        return dict(self._neighbours.get(name, {}))

    def radio_links(self) -> tuple[Link, ...]:
        """The effective undirected links: the explicit ones, else unit disk from positions.

        Unit disk: two nodes hear each other (prr 1.0) when their distance is at most
        `radio.range`; pairs are listed in file order.
        """
        return self._radio_links

    # -- derived data, computed once (frozen model: the fields never change) --

    @cached_property
    def _radio_links(self) -> tuple[Link, ...]:
        if self.links or self.radio.range is None:
            return self.links
        placed = [(n, node.position) for n, node in self.nodes.items() if node.position is not None]
        found = []
        for i, (a, pa) in enumerate(placed):
            for b, pb in placed[i + 1 :]:
                if _distance(pa, pb) <= self.radio.range:
                    found.append(Link(a=a, b=b, prr=1.0))
        return tuple(found)

    @cached_property
    def _neighbours(self) -> dict[str, dict[str, float]]:
        table: dict[str, dict[str, float]] = {}
        for link in self._radio_links:
            table.setdefault(link.a, {})[link.b] = link.prr
            table.setdefault(link.b, {})[link.a] = link.prr
        return table

    @cached_property
    def _short_addresses(self) -> dict[str, int]:
        return {
            n: node.short_address if node.short_address is not None else i
            for i, (n, node) in enumerate(self.nodes.items(), start=1)
        }

    @model_validator(mode="after")
    def _whole_topology(self) -> Topology:
        for path, message, at_key in _semantic_issues(self):
            raise PydanticCustomError(
                "topology",
                "{path}: {message}",
                {"path": dotted(path), "message": message, "at": (path, at_key)},
            )
        return self


def _distance(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    pa, pb = (*a, 0.0)[:3], (*b, 0.0)[:3]
    return math.dist(pa, pb)


Issue = tuple[tuple[str | int, ...], str, bool]  # (path, what was expected, point at the key?)


def _semantic_issues(topology: Topology) -> Iterator[Issue]:
    """Whole-topology checks, in the order a person would fix them."""
    nodes = topology.nodes
    for key, node in nodes.items():
        if node.name != key:
            message = f"expected the node's name to equal its key {key!r} (got {node.name!r})"
            yield ("nodes", key, "name"), message, True

    seen: dict[frozenset[str], int] = {}
    for i, link in enumerate(topology.links):
        for end in ("a", "b"):
            name = getattr(link, end)
            if name not in nodes:
                choices = ", ".join(nodes)
                yield (
                    ("links", i, end),
                    f"unknown node {name!r}{did_you_mean(name, nodes)} (nodes are {choices})",
                    False,
                )
                return
        if link.a == link.b:
            yield ("links", i, "b"), f"a link joins two different nodes (got {link.a!r} twice)", False
            return
        if link.key() in seen:
            yield (
                ("links", i),
                f"duplicate link {link.a} - {link.b} (already links.{seen[link.key()]}; links are undirected)",
                False,
            )
            return
        seen[link.key()] = i

    border_routers = [n for n, node in nodes.items() if node.role is Role.BORDER_ROUTER]
    if not border_routers:
        yield ("nodes",), "expected exactly one node with role: border-router, found none", False
        return
    if len(border_routers) > 1:
        yield (
            ("nodes", border_routers[1], "role"),
            f"expected exactly one border-router, but {border_routers[0]!r} is one already",
            False,
        )
        return

    if not topology.links:
        if topology.radio.range is None:
            if len(nodes) > 1:
                yield ("links",), "no links: give `links`, or radio.range and a position for every node", False
                return
        else:
            for name, node in nodes.items():
                if node.position is None:
                    yield (
                        ("nodes", name),
                        f"radio.range is set and there are no links, so every node needs a position "
                        f"[x, y]; {name} has none",
                        True,
                    )
                    return

    used: dict[int, str] = {}
    for i, (name, node) in enumerate(nodes.items(), start=1):
        short = node.short_address if node.short_address is not None else i
        if short in used:
            where = ("nodes", name, "short_address") if node.short_address is not None else ("nodes", name)
            yield (
                where,
                f"duplicate short address {short:#06x}: {used[short]!r} has it already "
                "(a node without short_address gets its 1-based place in file order)",
                node.short_address is None,
            )
            return
        used[short] = name

    root = border_routers[0]
    pan = topology.platform_of(root)
    if Platform.CONTIKI in {topology.platform_of(n) for n in nodes}:
        for name, node in nodes.items():
            if topology.platform_of(name) is not pan:
                where = ("nodes", name, "platform") if node.platform is not None else ("nodes", name)
                yield (
                    where,
                    f"{name} runs {topology.platform_of(name)} but the border router {root!r} "
                    f"runs {pan}: Contiki and Linux nodes cannot share a PAN (Contiki routes with "
                    "RPL through its own border router, Linux nodes with static routes and "
                    "neighbour entries); give every node the same platform",
                    node.platform is None,
                )
                return

    reached = _reachable(topology, root)
    for name in nodes:
        if name not in reached:
            island = sorted(_reachable(topology, name) - {name})
            how = f"it reaches only {', '.join(island)}" if island else "it has no link"
            yield ("nodes", name), f"{name} cannot reach the border router {root!r}: {how}", True
            return


def _reachable(topology: Topology, start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for peer in topology.neighbours(todo.pop()):
            if peer not in seen:
                seen.add(peer)
                todo.append(peer)
    return seen


# --- from a file: normalise, validate, and turn every error into one located line -----------

_TOP_KEYS = ("name", "platform", "radio", "cloud", "nodes", "links")


def load_topology(path: str | Path) -> Topology:
    """Read and check a topology file; raise `TopologyError` naming file:line:col on any mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TopologyError(f"{path}: cannot read topology file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise TopologyError(f"{path}: not UTF-8 text (byte offset {exc.start})") from None
    topology = parse_topology(text, str(path))
    return topology.model_copy(update={"source": path})


def parse_topology(text: str, source: str = "<string>") -> Topology:
    """Parse topology YAML `text`; `source` is the file name shown in error messages."""
    document = load_marked(text, source)
    raw = document.data
    if not isinstance(raw, dict):
        kind = "an empty file" if raw is None else yaml_kind(raw)
        raise document.error((), f"expected a mapping with keys {', '.join(_TOP_KEYS)} (got {kind})")
    data = _normalise(document, raw)
    try:
        return Topology.model_validate(data)
    except ValidationError as exc:
        raise _first_error(document, raw, exc) from None


def _normalise(document: MarkedDocument, raw: dict[Any, Any]) -> dict[str, Any]:
    """File shape -> model shape: node names come from keys, empty sections mean defaults."""
    for key in raw:
        if key not in _TOP_KEYS:
            raise document.error(
                (key,),
                f"unknown key {key!r}{did_you_mean(key, _TOP_KEYS)} (expected {', '.join(_TOP_KEYS)})",
                key=True,
            )
    data = {k: v for k, v in raw.items() if v is not None or k in ("name", "nodes")}
    nodes = raw.get("nodes")
    if isinstance(nodes, dict):
        shaped = {}
        for name, body in nodes.items():
            if body is None:
                body = {}
            if isinstance(body, dict):
                if "name" in body:
                    raise document.error(
                        ("nodes", name, "name"),
                        "unknown key 'name': a node's name is its key under nodes:",
                        key=True,
                    )
                body = {"name": str(name), **body}
            shaped[str(name)] = body
        data["nodes"] = shaped
    return data


def _yaml_path(
    loc: tuple[str | int, ...], raw: dict[Any, Any]
) -> tuple[tuple[str | int, ...], bool]:
    """Map a model path to the YAML path holding it; bool: the error is about the key itself."""
    if len(loc) >= 3 and loc[0] == "nodes" and loc[2] == "name":
        return loc[:2], True  # the name is the key under nodes:
    if len(loc) >= 3 and loc[0] == "links" and isinstance(loc[1], int):
        links = raw.get("links")
        if isinstance(links, list) and loc[1] < len(links) and isinstance(links[loc[1]], list):
            if loc[2] in ("a", "b"):
                return (*loc[:2], 0 if loc[2] == "a" else 1, *loc[3:]), False
            return (*loc[:2], 2, *loc[2:]), False
    return loc, False


_KNOWN_KEYS = {
    "radio": tuple(Radio.model_fields),
    "cloud": tuple(Cloud.model_fields),
    "nodes": tuple(k for k in Node.model_fields if k != "name"),
    "links": tuple(Link.model_fields),
}


def _message(error: dict[str, Any]) -> str:
    """What was expected, in the file's words, for one pydantic error."""
    kind, loc, value, ctx = error["type"], error["loc"], error.get("input"), error.get("ctx") or {}
    if kind == "extra_forbidden":
        known = _KNOWN_KEYS.get(str(loc[0]), ())
        word = loc[-1]
        return f"unknown key {word!r}{did_you_mean(word, known)} (expected {', '.join(known)})"
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing"
    if kind == "enum":
        choices = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        return f"expected one of {', '.join(choices)} (got {_got(value)}){did_you_mean(value, choices)}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (got {yaml_kind(value)})"
    if kind in ("tuple_type", "list_type"):
        return f"expected a list (got {yaml_kind(value)})"
    if kind == "string_type":
        return f"expected a text value (got {_got(value)})"
    if kind == "string_too_short":
        return "expected a non-empty text value"
    return f"{error['msg']} (got {_got(value)})"


def _first_error(
    document: MarkedDocument, raw: dict[Any, Any], exc: ValidationError
) -> TopologyError:
    """The error that comes first in the file, as one located line."""
    located: list[tuple[tuple[int, int], Position, str, str]] = []
    for error in exc.errors(include_url=False):
        ctx = error.get("ctx") or {}
        if error["type"] == "topology":
            path, at_key = ctx["at"]
            shown, message = ctx["path"], ctx["message"]
        else:
            path, at_key = error["loc"], error["type"] == "extra_forbidden"
            shown, message = dotted(path), _message(error)
        yaml_path, name_key = _yaml_path(tuple(path), raw)
        if name_key and error["type"] != "topology":
            shown = dotted(yaml_path)  # the node's name is its key: nodes.BR, not nodes.BR.name
        position = document.position(yaml_path, key=at_key or name_key)
        located.append(((position.line, position.column), position, shown, message))
    _, position, shown, message = min(located, key=lambda item: item[0])
    return located_error(position, shown, message)
