"""A XEP-0174 (Serverless Messaging) stream from the sensor to a peer it found on the link.

No server, so no SASL and no resource binding (XEP-0174 §4): the sensor opens TCP to the
address and port the peer's `_presence._tcp` SRV and AAAA records gave, sends a stream header
naming both ends by their instance names (from='s1@s1' to='sink@br'), and waits for the
peer's header and its (possibly empty) stream features (RFC 6120 §4.3.2, version 1.0).
After that stanzas flow as on a client stream; `jid` is the sensor's own instance name.
"""

import socket

try:
    import time
except ImportError:  # pragma: no cover
    import utime as time

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


class Inbound:
    """Link-local streams other entities open to the sensor's advertised port (XEP-0174 §4):
    each gets the sensor's stream header and empty features; an XMPP ping (XEP-0199) is
    answered, any other IQ get/set gets service-unavailable (RFC 6120 §8.4), messages and
    presence are read and dropped (a sensor has nothing to do with them). `socks` are served
    by the same wait loops as the mDNS socket (discovery.Discovery)."""

    def __init__(self, local, port):
        self.local = local
        self.listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("::", port))
        self.listener.listen(2)
        self.listener.setblocking(False)
        self.streams = []  # [socket, StanzaBuilder, remote]

    @property
    def socks(self):
        return [self.listener] + [s[0] for s in self.streams]

    def step(self):
        try:
            conn, _ = self.listener.accept()
            conn.setblocking(False)
            self.streams.append([conn, StanzaBuilder(), None])
        except OSError:
            pass
        for stream in list(self.streams):
            try:
                data = stream[0].recv(4096)
            except OSError as exc:
                if exc.args and exc.args[0] in (11, 115):  # EAGAIN: nothing yet
                    continue
                data = b""
            try:
                items = stream[1].feed(data) if data else [("close",)]
            except ValueError:
                items = [("close",)]
            for item in items:
                if not self.handle(stream, item):
                    self.drop(stream)
                    break

    def handle(self, stream, item):
        """One item of an inbound stream; False once it closed (or cannot take an answer)."""
        if item[0] == "open":
            stream[2] = item[1].get("from", "")
            return self.write(stream, stanzas.link_local_header(self.local, stream[2])
                              + "<stream:features/>")
        if item[0] == "close":
            self.write(stream, stanzas.STREAM_CLOSE)
            return False
        elif item[1].local == "iq" and item[1].get("type") in ("get", "set"):
            element = item[1]
            child = element.children[0] if element.children else None
            ping = child is not None and child.local == "ping" and \
                child.get("xmlns") == stanzas.NS_PING and element.get("type") == "get"
            answer = stanzas.iq_result if ping else stanzas.iq_error_unavailable
            return self.write(stream, answer(element.get("from") or stream[2],
                                             element.get("id", "")))
        return True

    def write(self, stream, text):
        """Send all of `text` (the socket is non-blocking: a short wait for room); False when
        the peer is gone or stalls, so that its stream is dropped, never the sensor."""
        data = memoryview(text.encode())
        tries = 0
        while len(data):
            try:
                data = data[stream[0].send(data):]
            except OSError as exc:
                if exc.args and exc.args[0] == 11 and tries < 50:  # EAGAIN: 50 x 10 ms
                    tries += 1
                    time.sleep(0.01)
                    continue
                return False
        return True

    def drop(self, stream):
        self.streams.remove(stream)
        try:
            stream[0].close()
        except OSError:
            pass

    def close(self):
        for stream in list(self.streams):
            self.drop(stream)
        self.listener.close()
