"""Colours of the report: one per variant, the same in every plot and table.

CoAP variants take cool hues (blues, teal), XMPP variants warm ones (orange, red, gold,
brown), so a reader tells the protocols apart before reading a label. A variant keeps its
colour across runs (it is looked up by name, not by position); an unknown variant takes the
next free colour of its protocol's family. Layers, radio roles and states have their own
muted colours, never a variant's.
"""

from __future__ import annotations

from collections.abc import Iterable

from testbed.report.model import COAP, XMPP, protocol_of

KNOWN = {
    "coap-get": "#4e79a7",
    "coap-observe-con": "#59a5d8",
    "coap-observe-non": "#3fa39a",
    "xmpp-message": "#f28e2b",
    "xmpp-pubsub": "#e15759",
    "xmpp-iq": "#d4a62a",
    "xmpp-message-tls": "#a0522d",
    "xmpp-message-min": "#cc4778",
    "xmpp-message-sm": "#b5651d",
}
SPARE = {
    COAP: ("#7b8fd4", "#8ecae6", "#2f5f8a"),
    XMPP: ("#ff9d76", "#c44e52", "#e9b44c"),
}
OTHER_COLOURS = ("#8cbf6d", "#b07aa1", "#9d7660", "#8a8a8a")

# bytes on the air by layer, bottom of the stack first (testbed.analysis.layers)
LAYERS = ("phy", "mac", "ack", "lowpan", "icmpv6", "transport", "app")
LAYER_COLOURS = {
    "phy": "#d9d9d9", "mac": "#b8b0d6", "ack": "#ddd5ee", "lowpan": "#a9d7b5",
    "icmpv6": "#eee8a9", "transport": "#69b58a", "app": "#2e7d5b",
}
LAYER_LABELS = {
    "phy": "PHY (SHR+PHR)", "mac": "MAC header+FCS", "ack": "link ACKs", "lowpan": "6LoWPAN",
    "icmpv6": "ICMPv6", "transport": "UDP/TCP", "app": "application",
}
ROLE_COLOURS = {"border-router": "#3d4a5c", "router": "#9b8ec4", "sensor": "#8fc79a"}
OK, LOSSY, FAILED = "#2e7d32", "#b26a00", "#c62828"


def variant_colours(names: Iterable[str]) -> dict[str, str]:
    """name -> colour for every variant of a run (known names first keep theirs)."""
    names = list(dict.fromkeys(names))
    colours = {n: KNOWN[n] for n in names if n in KNOWN}
    used = set(colours.values())
    for name in names:
        if name in colours:
            continue
        family = SPARE.get(protocol_of(name), ()) + OTHER_COLOURS
        colour = next((c for c in family if c not in used), "#777777")
        colours[name] = colour
        used.add(colour)
    return colours


def lighter(colour: str, amount: float = 0.55) -> str:
    """`colour` mixed with white (0: unchanged, 1: white): the 'run A' bars of a delta plot."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    mix = (round(c + (255 - c) * amount) for c in (r, g, b))
    return "#" + "".join(f"{c:02x}" for c in mix)
