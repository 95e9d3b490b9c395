"""IoT protocol testbed: XMPP vs CoAP over emulated and real IEEE 802.15.4 / 6LoWPAN."""

__version__ = "0.1.0"
