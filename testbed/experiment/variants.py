"""The protocol variants the comparison runs: what each one puts on the node and in the cloud.

A `Variant` is a closed set (one per way of getting a sensor reading to the cloud). Each says
which node app it runs (nodes/<app>/), the node settings it needs on top of the common ones
(docs/CONTRACTS.md "CONFIG.json"), which services start in the cloud namespace (Prosody + an
XMPP sink, or a CoAP sink) and the sink's mode. It does not start anything itself: the
scenario runner (experiment/scenario.py) does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from testbed.config.yamlmarks import did_you_mean
from testbed.errors import BadInput


class Protocol(StrEnum):
    COAP = "coap"
    XMPP = "xmpp"


class Variant(StrEnum):
    COAP_GET = "coap-get"  # the sink polls GET /sensors/<sensor> (RFC 7252 §5.8.1)
    COAP_OBSERVE_CON = "coap-observe-con"  # RFC 7641 notifications as confirmable messages
    COAP_OBSERVE_NON = "coap-observe-non"  # RFC 7641 notifications, non-confirmable (may be lost)
    XMPP_MESSAGE = "xmpp-message"  # RFC 6121 §5 <message/> to the sink's JID
    XMPP_PUBSUB = "xmpp-pubsub"  # XEP-0060 §7.1 publish to the node's pubsub node
    XMPP_IQ = "xmpp-iq"  # the sink asks with <iq type="get"/> (RFC 6120 §8.2.3)
    XMPP_MESSAGE_TLS = "xmpp-message-tls"  # xmpp-message over STARTTLS (RFC 6120 §5)
    # issue 10: xmpp-message with the shortest addresses the standard leaves to us: the sink's
    # account "k" (to='k@iot.testbed'), the sensor's resource "r"; nothing optional on the
    # stanza (no id, type or xml:lang). Whether a reading then fits one frame is measured.
    XMPP_MESSAGE_MIN = "xmpp-message-min"
    # issue 10: xmpp-message with XEP-0198 stream management: acks, and after a drop the
    # session is resumed (no bind, no presence) with only the unacked readings sent again
    XMPP_MESSAGE_SM = "xmpp-message-sm"
    # issue 09: the server is found with mDNS/DNS-SD; without one, XEP-0174 link-local streams
    # to a collector on the border router; prosody starts mid-run and the sensors move to it
    XMPP_SERVERLESS = "xmpp-serverless"

    @property
    def spec(self) -> VariantSpec:
        return SPECS[self]

    @property
    def protocol(self) -> Protocol:
        return self.spec.protocol

    @property
    def app(self) -> str:
        return self.spec.app

    @property
    def sink_mode(self) -> str:
        return self.spec.sink_mode

    @property
    def tls(self) -> bool:
        return self.spec.tls

    @property
    def serverless(self) -> bool:
        return self.spec.sink_mode == "serverless"

    def unsupported_on(self, platform: str) -> str | None:
        """Why the variant's app cannot run on `platform`'s nodes, or None when it can."""
        if platform == "contiki" and self.serverless:
            return ("the Contiki-NG xmpp-sensor has no mDNS/DNS-SD or XEP-0174 yet "
                    "(issue 09 built them for the Python apps)")
        if platform == "contiki" and self.spec.stream_management:
            return "the Contiki-NG xmpp-sensor has no XEP-0198 stream management yet"
        if platform == "contiki" and self.tls:
            return ("the Contiki-NG xmpp-sensor has no STARTTLS (Contiki-NG 5.0 ships no TLS "
                    "library; nodes/contiki/lib/xmpp/README.md)")
        return None

    @property
    def reliable(self) -> bool:
        """True when the protocol retransmits until delivered (all but NON notifications)."""
        return self.spec.reliable

    @property
    def services(self) -> tuple[str, ...]:
        """Names of the services, in start order (serverless: prosody and its sink mid-run)."""
        if self.serverless:
            return ("link-local-sink", "discovery-proxy", "prosody", "xmpp-sink")
        return ("prosody", "xmpp-sink") if self.protocol is Protocol.XMPP else ("coap-sink",)

    def node_config(self) -> dict[str, Any]:
        """The variant's own CONFIG.json keys (the runner adds name, readings, passwords...)."""
        return dict(self.spec.node)


@dataclass(frozen=True, slots=True)
class VariantSpec:
    protocol: Protocol
    app: str
    sink_mode: str
    node: tuple[tuple[str, Any], ...]
    tls: bool = False
    reliable: bool = True
    sink_user: str = "sink"  # the sink's account: the local part of the JID readings go to
    stream_management: bool = False  # XEP-0198: prosody loads mod_smacks, the node enables it


def _coap(mode: str, observe: str | None, *, reliable: bool = True) -> VariantSpec:
    return VariantSpec(
        protocol=Protocol.COAP, app="coap-sensor", sink_mode=mode, reliable=reliable,
        node=(("port", 5683), ("observe", observe), ("max_age", 60)),
    )


def _xmpp(mode: str, *, tls: bool = False, resource: str = "sensor",
          sink_user: str = "sink", stream_management: bool = False) -> VariantSpec:
    node: tuple[tuple[str, Any], ...] = (
        ("port", 5222), ("mode", mode), ("starttls", tls), ("sasl", "PLAIN"),
        ("resource", resource))
    if stream_management:
        node += (("stream_management", True),)
    return VariantSpec(
        protocol=Protocol.XMPP, app="xmpp-sensor", sink_mode=mode, tls=tls, sink_user=sink_user,
        stream_management=stream_management, node=node,
    )


SPECS: dict[Variant, VariantSpec] = {
    Variant.COAP_GET: _coap("get", None),
    Variant.COAP_OBSERVE_CON: _coap("observe-con", "con"),
    Variant.COAP_OBSERVE_NON: _coap("observe-non", "non", reliable=False),
    Variant.XMPP_MESSAGE: _xmpp("message"),
    Variant.XMPP_PUBSUB: _xmpp("pubsub"),
    Variant.XMPP_IQ: _xmpp("iq"),
    Variant.XMPP_MESSAGE_TLS: _xmpp("message", tls=True),
    Variant.XMPP_MESSAGE_MIN: _xmpp("message", resource="r", sink_user="k"),
    Variant.XMPP_MESSAGE_SM: _xmpp("message", stream_management=True),
    Variant.XMPP_SERVERLESS: VariantSpec(
        protocol=Protocol.XMPP, app="xmpp-sensor", sink_mode="serverless",
        node=(("port", 5222), ("mode", "message"), ("starttls", False), ("sasl", "PLAIN"),
              ("resource", "sensor"), ("discovery", "mdns"), ("serverless", True))),
}


def parse_variants(text: str | Iterable[str] | None) -> tuple[Variant, ...]:
    """`"coap-get,xmpp-iq"` -> the variants, in the order given, without repeats.

    None or empty means every variant. An unknown name is a BadInput with a "did you mean".
    """
    if text is None:
        return tuple(Variant)
    names = text.split(",") if isinstance(text, str) else list(text)
    names = [n.strip() for n in names if n.strip()]
    if not names:
        return tuple(Variant)
    known = [v.value for v in Variant]
    chosen: list[Variant] = []
    for name in names:
        if name not in known:
            raise BadInput(f"--variants: unknown variant {name!r}{did_you_mean(name, known)} "
                           f"(known: {', '.join(known)})"
            )
        if Variant(name) not in chosen:
            chosen.append(Variant(name))
    return tuple(chosen)


def for_platform(chosen: Sequence[Variant], platform: str, *, explicit: bool
                 ) -> tuple[tuple[Variant, ...], list[str]]:
    """The variants that run on `platform`, and one line for each left out. A variant the user
    named that cannot run there is bad input (exit 2), not a silent skip."""
    kept, skipped = [], []
    for variant in chosen:
        reason = variant.unsupported_on(platform)
        if reason is None:
            kept.append(variant)
        elif explicit:
            raise BadInput(f"--variants: {variant} cannot run on {platform} nodes: {reason}")
        else:
            skipped.append(f"{variant} skipped on {platform}: {reason}")
    return tuple(kept), skipped
