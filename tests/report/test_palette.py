"""One colour per variant, by name: the same in every plot and across runs."""

from __future__ import annotations

import colorsys

from testbed.report.palette import KNOWN, lighter, variant_colours


def _hue(colour: str) -> float:
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


def test_a_variant_keeps_its_colour_whatever_else_ran() -> None:
    alone = variant_colours(["xmpp-iq"])
    together = variant_colours(["coap-get", "xmpp-message", "xmpp-iq"])
    assert alone["xmpp-iq"] == together["xmpp-iq"] == KNOWN["xmpp-iq"]


def test_coap_is_cool_and_xmpp_warm() -> None:
    for name, colour in KNOWN.items():
        hue = _hue(colour)
        if name.startswith("coap"):
            assert 150 <= hue <= 240, (name, hue)
        else:
            assert hue <= 60 or hue >= 330, (name, hue)


def test_unknown_variants_get_distinct_colours_of_their_family() -> None:
    colours = variant_colours(["coap-get", "coap-x", "coap-y", "xmpp-x", "mqtt-a", "mqtt-b"])
    assert len(set(colours.values())) == 6
    assert 150 <= _hue(colours["coap-x"]) <= 240
    assert _hue(colours["xmpp-x"]) <= 60 or _hue(colours["xmpp-x"]) >= 330


def test_lighter_mixes_with_white() -> None:
    assert lighter("#000000", 0.5) == "#808080"
    assert lighter("#4e79a7", 0.0) == "#4e79a7"
    assert lighter("#4e79a7", 1.0) == "#ffffff"
