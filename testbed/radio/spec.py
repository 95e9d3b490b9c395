"""The medium's spec file (`python -m testbed.radio.medium SPEC.json`), docs/CONTRACTS.md.

What it is: the pydantic model of the JSON the emulated backend writes for the
medium process, and `load_spec`. What it is not: the topology (config/ owns that;
the backend flattens a Topology into this).
"""

from __future__ import annotations

import json
from ipaddress import IPv6Network
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from testbed.errors import BadInput
from testbed.lowpan.addresses import MAX_SHORT

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class NodeSpec(BaseModel):
    """One node: its short address and how it reaches the air.

    port "tap": a Linux node; the medium is its MAC and 6LoWPAN layer, through the TAP
    `tap` in namespace `netns`. port "frame": a node with its own MAC (Contiki-NG) that
    connects to the medium's `frame_socket` and hands it whole frames (radio/frameport.py).
    """

    model_config = _FROZEN
    name: str
    short: int = Field(ge=1, le=MAX_SHORT)
    port: Literal["tap", "frame"] = "tap"
    netns: str | None = None
    tap: str = Field(default="wpan0", max_length=15)  # IFNAMSIZ - 1

    @model_validator(mode="after")
    def _netns_for_tap(self) -> NodeSpec:
        if self.port == "tap" and self.netns is None:
            raise ValueError(f"node {self.name!r}: a tap port needs netns")
        return self


class LinkSpec(BaseModel):
    """An undirected radio link with its packet reception ratio."""

    model_config = _FROZEN
    a: str
    b: str
    prr: float = Field(default=1.0, ge=0.0, le=1.0)


class MediumSpec(BaseModel):
    """Everything the medium process needs; paths are absolute."""

    model_config = _FROZEN
    run_id: str
    channel: int = Field(default=26, ge=11, le=26)
    pan_id: int = Field(default=0xABCD, ge=0, le=0xFFFE)
    addressing: Literal["short", "extended"] = "short"
    prefix: IPv6Network = IPv6Network("fd00::/64")
    seed: int = 1
    queue: int = Field(default=16, ge=1)
    nodes: tuple[NodeSpec, ...]
    links: tuple[LinkSpec, ...] = ()
    capture: Path
    activity: Path
    stats: Path
    #: The node that announces the PAN prefix and context 0 (a 6LBR's RA with 6CO) at start.
    border_router: str | None = None
    #: RFC 4944 §5.3 says 60 s; experiments with heavy loss may want it shorter.
    reassembly_timeout_s: float = Field(default=60.0, gt=0.0)
    #: Where to publish the tap as a sensniff v2 serial stream: a symlink to a pty slave
    #: (testbed.capture.sensniff_pty); None: no such tap.
    sensniff_pty: Path | None = None
    #: Where the medium listens (AF_UNIX SOCK_SEQPACKET) for its frame-port nodes;
    #: needed when any node has port "frame".
    frame_socket: Path | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MediumSpec:
        names = [n.name for n in self.nodes]
        shorts = [n.short for n in self.nodes]
        if len(set(names)) != len(names) or len(set(shorts)) != len(shorts):
            raise ValueError("node names and short addresses must be unique")
        if self.frame_socket is None and any(n.port == "frame" for n in self.nodes):
            raise ValueError("frame-port nodes need frame_socket")
        if self.border_router is not None and self.border_router not in names:
            raise ValueError(f"border_router {self.border_router!r} is not a node")
        for link in self.links:
            for end in (link.a, link.b):
                if end not in names:
                    raise ValueError(f"link {link.a}-{link.b}: unknown node {end!r}")
        return self

    def short_of(self, name: str) -> int:
        return next(n.short for n in self.nodes if n.name == name)


def load_spec(path: str | Path) -> MediumSpec:
    """Read and validate a spec file; BadInput names the file and the offending key."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BadInput(f"{path}: cannot read medium spec: {error}") from None
    try:
        return MediumSpec.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "<top>"
        raise BadInput(f"{path}: {where}: {first['msg']}") from None
