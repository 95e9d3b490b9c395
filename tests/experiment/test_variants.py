"""Variants: every one fully described, and --variants parsed with a did-you-mean."""

from __future__ import annotations

import pytest

from testbed.errors import BadInput
from testbed.experiment.nodes import NODES_DIR
from testbed.experiment.variants import Protocol, Variant, parse_variants


def test_every_variant_has_a_spec_with_its_app_and_services() -> None:
    for variant in Variant:
        assert variant.app == f"{variant.protocol}-sensor"
        if variant.serverless:  # the collector and proxy first; prosody mid-run
            assert variant.services == ("link-local-sink", "discovery-proxy", "prosody",
                                        "xmpp-sink")
            assert variant.node_config()["discovery"] == "mdns"
            assert variant.node_config()["serverless"] is True
        elif variant.protocol is Protocol.XMPP:
            assert variant.services == ("prosody", "xmpp-sink")
            assert variant.node_config()["mode"] == variant.sink_mode
            assert variant.node_config()["starttls"] is variant.tls
        else:
            assert variant.services == ("coap-sink",)
            assert variant.node_config()["port"] == 5683


def test_only_non_notifications_are_unreliable_and_only_the_tls_variant_uses_tls() -> None:
    assert [v for v in Variant if not v.reliable] == [Variant.COAP_OBSERVE_NON]
    assert [v for v in Variant if v.tls] == [Variant.XMPP_MESSAGE_TLS]
    assert Variant.COAP_OBSERVE_NON.node_config()["observe"] == "non"
    assert Variant.COAP_GET.node_config()["observe"] is None


def test_the_node_config_is_a_copy() -> None:
    Variant.COAP_GET.node_config()["port"] = 1
    assert Variant.COAP_GET.node_config()["port"] == 5683


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, tuple(Variant)),
        ("", tuple(Variant)),
        ("coap-get", (Variant.COAP_GET,)),
        (" xmpp-iq , coap-get,xmpp-iq", (Variant.XMPP_IQ, Variant.COAP_GET)),
        (["xmpp-message-tls"], (Variant.XMPP_MESSAGE_TLS,)),
    ],
)
def test_parse_variants(text: object, expected: tuple[Variant, ...]) -> None:
    assert parse_variants(text) == expected  # type: ignore[arg-type]


def test_an_unknown_variant_says_what_was_meant() -> None:
    with pytest.raises(BadInput, match=r"unknown variant 'coap-observ-con'; did you mean "
                                       r"'coap-observe-con'\?") as info:
        parse_variants("coap-get,coap-observ-con")
    assert info.value.exit_status == 2


def test_a_name_like_nothing_lists_the_known_ones() -> None:
    with pytest.raises(BadInput, match=r"unknown variant 'mqtt' \(known: coap-get, "):
        parse_variants("mqtt")


def test_every_variants_app_exists_in_nodes() -> None:
    for variant in Variant:
        assert (NODES_DIR / variant.app / "manifest.toml").is_file()


def test_a_tls_variant_is_skipped_on_contiki_with_a_reason_or_refused_when_named() -> None:
    from testbed.errors import BadInput
    from testbed.experiment.variants import for_platform

    kept, skipped = for_platform(tuple(Variant), "contiki", explicit=False)
    left_out = (Variant.XMPP_MESSAGE_TLS, Variant.XMPP_MESSAGE_SM, Variant.XMPP_SERVERLESS)
    assert kept == tuple(v for v in Variant if v not in left_out)
    assert skipped == [f"{v} skipped on contiki: {v.unsupported_on('contiki')}"
                       for v in left_out]
    assert for_platform(tuple(Variant), "emulated", explicit=True) == (tuple(Variant), [])
    with pytest.raises(BadInput, match="xmpp-message-tls cannot run on contiki nodes: .*STARTTLS"):
        for_platform((Variant.XMPP_MESSAGE_TLS,), "contiki", explicit=True)
