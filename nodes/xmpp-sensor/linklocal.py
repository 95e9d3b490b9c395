"""A XEP-0174 (Serverless Messaging) stream from the sensor to a peer it found on the link.

No server, so no SASL and no resource binding (XEP-0174 §4): the sensor opens TCP to the
address and port the peer's `_presence._tcp` SRV and AAAA records gave, sends a stream header
naming both ends by their instance names (from='s1@s1' to='sink@br'), and waits for the
peer's header and its (possibly empty) stream features (RFC 6120 §4.3.2, version 1.0).
After that stanzas flow as on a client stream; `jid` is the sensor's own instance name.
"""

import socket

import stanzas
from client import Closed, Session, StreamError
from xmltok import StanzaBuilder


def socket_address(address, port, interface):
    """getaddrinfo's address for `address`, a link-local one scoped to `interface`."""
    host = address
    if address.lower().startswith("fe80") and "%" not in address:
        host = "%s%%%s" % (address, interface)
    return socket.getaddrinfo(host, port)[0][-1]


class LinkLocalSession(Session):
    def __init__(self, config, handler, local, remote, address, port, idle=None,
                 discovery=None):
        Session.__init__(self, config, handler, idle, discovery)
        self.local, self.remote = local, remote
        self.address, self.port = address, port

    def open(self):
        interface = (self.config.get("mdns") or {}).get("interface", "wpan0")
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.settimeout(float(self.config.get("server_timeout_s", 30.0)))
        try:
            self.sock.connect(socket_address(self.address, self.port, interface))
        except OSError as exc:
            self.sock.close()
            self.sock = None
            raise Closed("connect to %s at [%s]:%s failed: %r" % (self.remote, self.address,
                                                                 self.port, exc))
        self.builder = StanzaBuilder()
        self.pending = []
        self.send(stanzas.link_local_header(self.local, self.remote))
        features = self.expect()
        if features.local != "features":
            raise StreamError("expected stream features from %s, got <%s>" % (self.remote,
                                                                              features.tag))
        self.jid = self.local
