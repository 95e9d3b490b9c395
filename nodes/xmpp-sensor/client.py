"""The XMPP client session of the sensor (RFC 6120 / RFC 6121), blocking, MicroPython-ready.

`Session(config, emit).open()` does TCP connect, stream header, features, optional STARTTLS
(RFC 6120 §5), SASL PLAIN or SCRAM-SHA-1 (§6), stream restart, resource bind (§7) and initial
presence (RFC 6121 §4.2); `poll(timeout)` reads and handles incoming stanzas; `send` writes,
`send_stanza` writes a stanza (counted by stream management). The password is only ever put
into the SASL exchange, never printed.

With a StreamManagement (`sm`, XEP-0198) the session enables it after binding when the server
offers it, answers the server's <r/>, takes its <a/>, and on the next open resumes the old
session instead of binding (`resumed` then lists the readings to write again).
"""

import socket

try:
    import select
except ImportError:  # pragma: no cover
    import uselect as select

try:
    import time
except ImportError:  # pragma: no cover - MicroPython without the plain name
    import utime as time

import scram
import stanzas
import stream_management
from xmltok import StanzaBuilder

try:
    from os import urandom as random_bytes
except ImportError:  # pragma: no cover - MicroPython ports without os.urandom
    import random

    def random_bytes(n):
        return bytes([random.getrandbits(8) for _ in range(n)])


class StreamError(Exception):
    """The stream failed (closed, stream error, SASL failure, unexpected answer)."""


class Closed(StreamError):
    """The TCP connection dropped or the server closed the stream."""


class ServerTimeout(StreamError):
    """The server did not answer within server_timeout_s (a congested or lossy path)."""


#: How long set-up waits for each answer of the server, and for the TCP connect.
SERVER_TIMEOUT_S = 30.0
#: How often set-up hands control back to the sensor (`idle`) while it waits.
IDLE_S = 0.25


def is_timeout(exc):
    if exc.__class__.__name__ in ("timeout", "TimeoutError", "SSLWantReadError"):
        return True
    return bool(exc.args) and exc.args[0] in (110, 11, "timed out")  # ETIMEDOUT, EAGAIN


def wrap_tls(sock, server_name):
    """TLS over the connected socket. The testbed's server has a self-signed certificate, so the
    certificate is not verified (MicroPython's ssl cannot verify either); the sink side does."""
    try:
        import ssl
    except ImportError:  # pragma: no cover
        import ussl as ssl
    if hasattr(ssl, "SSLContext") and hasattr(ssl, "PROTOCOL_TLS_CLIENT"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            ctx.check_hostname = False  # CPython; MicroPython's context has no such attribute
        except AttributeError:  # pragma: no cover
            pass
        ctx.verify_mode = ssl.CERT_NONE
        return ctx.wrap_socket(sock, server_hostname=server_name)
    return ssl.wrap_socket(sock, server_hostname=server_name)  # pragma: no cover - MicroPython


class Session:
    def __init__(self, config, handler, idle=None, discovery=None, sm=None):
        self.config = config
        self.handler = handler  # called with each stanza Element once the session is open
        self.idle = idle  # called about every IDLE_S while set-up waits for the server
        self.discovery = discovery  # discovery.Discovery: served while this session waits
        self.sock = None
        self.builder = None
        self.pending = []
        self.jid = None
        self.sent_bytes = 0
        self.tls = False
        self.sm = sm  # stream_management.StreamManagement, kept by the caller across sessions
        self.sm_on = False  # XEP-0198 is enabled (or resumed) on this stream
        self.resumed = None  # after a resumption: the readings the server never had
        self.lost = []  # after a failed resumption: the readings the server may not have had

    # transport -------------------------------------------------------------------------

    def send(self, text):
        data = text.encode() if isinstance(text, str) else text
        view = memoryview(data)
        while len(view):
            try:
                n = self.sock.send(view)
            except OSError as exc:
                if is_timeout(exc):
                    continue
                raise Closed("send failed: %r" % (exc,))
            view = view[n:]
        self.sent_bytes += len(data)

    def send_stanza(self, text, reading=None):
        """Write a stanza (message, presence, iq); stream management counts it and keeps the
        reading it carries until the server acks it."""
        self.send(text)
        if self.sm_on:
            self.sm.counted(reading)

    def request_ack(self):
        """XEP-0198 §4: ask the server how many of our stanzas it has (one <r/> at a time)."""
        if self.sm_on and not self.sm.requested:
            self.send(stream_management.REQUEST)
            self.sm.requested = True

    def _recv(self, timeout):
        if self.discovery is not None and not self._wait_readable(timeout):
            return None
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except OSError as exc:
            if is_timeout(exc):
                return None
            raise Closed("recv failed: %r" % (exc,))
        if not data:
            raise Closed("connection closed by the server")
        return data

    def _wait_readable(self, timeout):
        """Wait up to `timeout` s for the stream while the mDNS socket is served; True once
        the stream has something to read."""
        deadline = time.time() + timeout
        pending = getattr(self.sock, "pending", None)  # TLS bytes already decrypted
        while True:
            if pending is not None and pending():
                return True
            left = deadline - time.time()
            wait = max(0.0, min(left, self.discovery.wait_bound()))
            ready = readable([self.sock] + self.discovery.all_socks(), wait)
            self.discovery.step()
            if id(self.sock) in ready:
                return True
            if time.time() >= deadline:
                return False

    def read(self, timeout):
        """Next ("open"|"element"|"close", ...) item, or None after `timeout` seconds of silence."""
        if self.pending:
            return self.pending.pop(0)
        data = self._recv(timeout)
        if data is None:
            return None
        try:
            self.pending.extend(self.builder.feed(data))
        except ValueError as exc:  # RFC 6120 §4.9.3.13 not-well-formed: drop and reconnect
            raise Closed("not-well-formed XML from the server: %s" % exc)
        if self.pending:
            return self.pending.pop(0)
        return None

    def expect(self, timeout=None):
        """The next complete top-level element (raises on close, stream error or silence).

        Silence for `timeout` s (config "server_timeout_s", default 30) is a ServerTimeout;
        while waiting, `idle` runs about every IDLE_S so the sensor's readings keep counting."""
        if timeout is None:
            timeout = float(self.config.get("server_timeout_s", SERVER_TIMEOUT_S))
        deadline = time.time() + timeout
        while time.time() < deadline:
            item = self.read(max(0.05, min(IDLE_S, deadline - time.time())))
            if self.idle is not None:
                self.idle()
            if item is None:
                continue
            if item[0] == "close":
                raise Closed("server closed the stream")
            if item[0] == "element":
                element = item[1]
                if element.local == "error" and element.tag.startswith("stream"):
                    raise StreamError(
                        "stream error: " + ",".join(c.local for c in element.children)
                    )
                return element
        raise ServerTimeout("no answer from the server within %g s" % timeout)

    # RFC 6120 §4.2 / §4.3.3: open (or restart) the stream; return <stream:features/>
    def open_stream(self):
        self.builder = StanzaBuilder()
        self.pending = []
        self.send(stanzas.stream_header(self.config["domain"]))
        features = self.expect()
        if features.local != "features":
            raise StreamError("expected stream features, got <%s>" % features.tag)
        return features

    # the whole set-up ------------------------------------------------------------------

    def open(self):
        cfg = self.config
        address = socket.getaddrinfo(cfg["server"], cfg["port"])[0][-1]
        family = socket.AF_INET6 if ":" in cfg["server"] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(float(cfg.get("server_timeout_s", SERVER_TIMEOUT_S)))
        try:
            self.sock.connect(address)
        except OSError as exc:
            self.sock.close()
            self.sock = None
            raise Closed("connect to [%s]:%s failed: %r" % (cfg["server"], cfg["port"], exc))
        features = self.open_stream()
        if features.find("starttls", stanzas.NS_TLS) is not None and cfg.get("starttls"):
            features = self.starttls()
        elif cfg.get("starttls"):
            raise StreamError("starttls requested but the server does not offer it")
        elif features.find("starttls", stanzas.NS_TLS) is not None and features.find(
            "starttls"
        ).find("required"):
            raise StreamError("the server requires STARTTLS (set starttls: true)")
        self.authenticate(features)
        features = self.open_stream()
        offers_sm = features.find("sm", stream_management.NS_SM) is not None
        if self.sm is not None and offers_sm and self.sm.resume_id and self.resume():
            return
        if features.find("bind", stanzas.NS_BIND) is None:
            raise StreamError("the server offers no resource binding")
        self.bind()
        if self.sm is not None and offers_sm:
            self.enable_sm()
        self.send_stanza(stanzas.presence())

    # XEP-0198 §3: enable stream management (with resumption) after binding
    def enable_sm(self):
        self.send(stream_management.ENABLE)
        answer = self.expect()
        if answer.local != "enabled":
            raise StreamError("stream management refused: <%s/>" % _failure(answer))
        self.sm.enabled(answer)
        self.sm.jid = self.jid
        self.sm_on = True

    # XEP-0198 §5: resume the previous session; True when the server took it back
    def resume(self):
        self.send(stream_management.resume(self.sm.handled, self.sm.resume_id))
        answer = self.expect()
        if answer.local == "resumed":
            self.resumed = self.sm.resumed(answer.get("h", "0"))
            self.jid = self.sm.jid
            self.sm_on = True
            return True
        if answer.local != "failed":
            raise StreamError("expected <resumed/> or <failed/>, got <%s>" % answer.tag)
        if answer.get("h") is not None:  # XEP-0198 1.6: what the server had before it gave up
            self.sm.acked(answer.get("h"))
        self.resumed = None
        self.lost = self.sm.failed()
        return False

    # RFC 6120 §5.4.2: STARTTLS, TLS negotiation, stream restart
    def starttls(self):
        self.send(stanzas.starttls())
        answer = self.expect()
        if answer.local != "proceed":
            raise StreamError("STARTTLS refused: <%s/>" % answer.local)
        # the handshake gets the whole server timeout, not the last short read's
        self.sock.settimeout(float(self.config.get("server_timeout_s", SERVER_TIMEOUT_S)))
        self.sock = wrap_tls(self.sock, self.config["domain"])
        self.tls = True
        return self.open_stream()

    # RFC 6120 §6.4: SASL negotiation
    def authenticate(self, features):
        mechanisms = features.find("mechanisms", stanzas.NS_SASL)
        offered = [m.text for m in mechanisms.children] if mechanisms else []
        wanted = self.config.get("sasl", "PLAIN")
        if wanted not in offered:
            raise StreamError(
                "SASL %s not offered (server offers %s)" % (wanted, ", ".join(offered))
            )
        user, password = self.config["user"], self.config["password"]
        if wanted == "PLAIN":
            self.send(
                stanzas.sasl_auth("PLAIN", scram.b64(scram.plain_message(user, password)).decode())
            )
            answer = self.expect()
        elif wanted == "SCRAM-SHA-1":
            nonce = scram.b64(random_bytes(18)).decode()
            exchange = scram.ScramSha1(user, password, nonce)
            self.send(stanzas.sasl_auth("SCRAM-SHA-1", scram.b64(exchange.first()).decode()))
            challenge = self.expect()
            if challenge.local != "challenge":
                raise StreamError("SASL SCRAM-SHA-1 failed: <%s/>" % _failure(challenge))
            try:
                final = exchange.final(scram.unb64(challenge.text))
            except ValueError as exc:  # a malformed server-first-message (RFC 5802 §5.1)
                raise StreamError("SASL SCRAM-SHA-1 failed: %s" % exc)
            self.send(stanzas.sasl_response(scram.b64(final).decode()))
            answer = self.expect()
            if answer.local == "challenge":
                # RFC 6120 §6.3.10: the server-final-message may come in a challenge; verify
                # it and answer with an empty response, then the <success/> follows
                verifier = answer.text
                self.send(stanzas.sasl_response(""))
                answer = self.expect()
            else:
                verifier = answer.text if answer.local == "success" else None
            if answer.local == "success":
                try:
                    exchange.verify(scram.unb64(verifier or ""))
                except ValueError as exc:  # the server does not know our password: not it
                    raise StreamError("SASL SCRAM-SHA-1: server signature rejected: %s" % exc)
        else:
            raise StreamError("unsupported SASL mechanism %s" % wanted)
        if answer.local != "success":
            raise StreamError("SASL %s failed: %s" % (wanted, _failure(answer)))

    # RFC 6120 §7.6: resource binding
    def bind(self):
        self.send(stanzas.bind(self.config.get("resource", "sensor")))
        while True:
            answer = self.expect()
            if answer.local == "iq" and answer.get("id") == "b":
                break
        if answer.get("type") != "result":
            raise StreamError("resource binding failed")
        jid = answer.find("bind")
        self.jid = jid.find("jid").text if jid and jid.find("jid") else None

    def poll(self, timeout):
        """Read for up to `timeout` s; hand each stanza to the handler. Raises Closed on drop."""
        item = self.read(timeout)
        while item is not None:
            if item[0] == "close":
                raise Closed("server closed the stream")
            if item[0] == "element":
                element = item[1]
                if element.tag.startswith("stream") and element.local == "error":
                    raise Closed("stream error: " + ",".join(c.local for c in element.children))
                if self.sm_on and element.get("xmlns") == stream_management.NS_SM:
                    self._sm_nonza(element)
                else:
                    self.handler(element)
                    if self.sm_on and element.local in ("message", "presence", "iq"):
                        self.sm.handled = (self.sm.handled + 1) % stream_management.MOD
            item = self.pending.pop(0) if self.pending else None

    def _sm_nonza(self, element):
        if element.local == "r":
            self.send(stream_management.answer(self.sm.handled))
        elif element.local == "a":
            self.sm.acked(element.get("h", "0"))

    def close(self, linger=0.0):
        """RFC 6120 §4.4: send the closing stream tag; with `linger`, wait that long for the
        server's own before closing the TCP connection (a clean end, not a dropped peer)."""
        if self.sock is None:
            return
        try:
            self.send(stanzas.STREAM_CLOSE)
            deadline = time.time() + linger
            while linger and time.time() < deadline:
                item = self.read(max(0.01, deadline - time.time()))
                if item is not None and item[0] == "close":
                    break
        except StreamError:
            pass
        # Read what the peer still sends (TLS close_notify, its FIN) before closing: closing
        # with unread data makes the kernel answer with RST instead of a clean FIN exchange.
        if linger:
            unwrap = getattr(self.sock, "unwrap", None)  # CPython ssl: send close_notify
            try:
                if unwrap is not None:
                    self.sock.settimeout(linger)
                    unwrap()
            except (OSError, ValueError):
                pass
            try:
                self.sock.settimeout(linger)
                while self.sock.recv(4096):
                    pass
            except (OSError, ValueError):
                pass
        try:
            self.sock.close()
        except OSError:
            pass
        self.sock = None


def readable(socks, timeout):
    """ids of the sockets in `socks` with something to read within `timeout` s."""
    poller = select.poll()
    by_key = {}
    for s in socks:
        poller.register(s, select.POLLIN)
        by_key[s.fileno() if hasattr(s, "fileno") else id(s)] = s
    ready = set()
    for item in poller.poll(int(timeout * 1000)):
        obj = item[0]  # CPython gives the fd, MicroPython the object registered
        s = by_key.get(obj) if isinstance(obj, int) else obj
        if s is not None:
            ready.add(id(s))
    return ready


def _failure(element):
    return ",".join(c.local for c in element.children) or element.local
