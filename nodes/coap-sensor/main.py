"""coap-sensor: an RFC 7252 CoAP server with observable sensor resources (MicroPython/CPython).

Run as `main.py CONFIG.json` (docs/CONTRACTS.md "Node firmware"). Serves on UDP [::]:port:
  /.well-known/core       RFC 6690 link format
  /sensors/<name>         GET -> 2.05 with ETag and Max-Age; Observe (RFC 7641) when the
                          config's "observe" is "con" or "non"
One loop, poll() with timeouts, serves requests and timers (no threads, no asyncio). Every
reading it sends is one JSON line on stdout: ready, reading, done, error.

Readings: in GET mode every GET answered is a new reading (seq + 1). In observe mode a GET
(the Observe registration too) answers with the current state, seq 0 before the first
reading, and is not a reading itself: a piggybacked response is not retransmitted by the
server (RFC 7252 §5.2.1) and a client may take a later notification for it (RFC 7641 §3.4),
so only notifications carry readings; every interval_s a new one goes to all observers,
until `readings` readings; then {"event": "done"}. CON notifications to one observer go one at
a time (NSTART 1, RFC 7252 §4.7), queued behind the one in flight, so none is skipped.
NON notifications keep RFC 7641 §4.5.1's rate: at most one per round-trip time, measured
from the ACKs of the CON notifications sent for that (the first, then every NON_REFRESH-th);
one that would come sooner waits, and a newer reading replaces it (a "dropped" event).

When the observer is gone (no observer of a resource) no readings are produced: they pause
until someone registers, and none is made only to be thrown away. Every registration is an
"observe" event (the scenario counts re-registrations from them). An observer whose CON
notification went unacknowledged MAX_RETRANSMIT times is dropped (RFC 7641 §4.5), but the
readings it still owed are kept for that endpoint (up to STRANDED_LIMIT, older ones are
"dropped" events); when the same endpoint registers the resource again (a new token: the
sink re-registers after a silence), a new entry replaces its old ones and takes over their
unacknowledged notifications, sent again under the new token after the registration's answer (so do
notifications answered with RST).
That answer's Observe number is one below the first notification handed over, so a client's
RFC 7641 §3.4 freshness check keeps them.
"""

import json
import sys

try:
    import select
except ImportError:  # pragma: no cover - MicroPython ports without the plain name
    import uselect as select
try:
    import socket
except ImportError:  # pragma: no cover
    import usocket as socket
try:
    import time
except ImportError:  # pragma: no cover
    import utime as time
try:
    import random
except ImportError:  # pragma: no cover
    import urandom as random
try:
    import hashlib
except ImportError:  # pragma: no cover
    hashlib = None

import coap
import reading

# RFC 7252 §4.8 transmission parameters, §4.8.2 derived time
ACK_TIMEOUT = 2.0
ACK_RANDOM_FACTOR = 1.5
MAX_RETRANSMIT = 4
EXCHANGE_LIFETIME = 247.0
NON_LIFETIME = 145.0
OBSERVE_MODULO = 1 << 24  # RFC 7641 §3.4: 24-bit sequence numbers
DEFAULT_MAX_AGE = 60  # RFC 7252 §5.10.5: what a client assumes when Max-Age is absent
STRANDED_LIMIT = 32  # notifications kept per endpoint and resource after its observer was dropped
# RFC 7641 §4.5.1: NON notifications at most one per round-trip time to the client, one per
# 3 s while there is no estimate; the estimate comes from CON notifications' ACKs: the first
# one to an observer and every NON_REFRESH-th after it (also §4.5's liveness check)
NON_GAP_WITHOUT_RTT = 3.0
NON_REFRESH = 16

# --payload -> the Content-Format it is served as (RFC 7252 §12.3, RFC 8428 §12.3)
FORMATS = {"text": coap.TEXT_PLAIN, "senml-json": coap.SENML_JSON,
           "senml-cbor": coap.SENML_CBOR, "xep0323": coap.APPLICATION_XML}
FORMAT_NAMES = {number: name for name, number in FORMATS.items()}
# RFC 7252 §5.4.1: critical options this server understands (others -> 4.02 Bad Option)
KNOWN_CRITICAL = (coap.URI_HOST, coap.URI_PORT,
                  coap.URI_PATH, coap.URI_QUERY, coap.ACCEPT, coap.BLOCK2)



def _epoch_offset():
    try:
        return 946684800 if time.gmtime(0)[0] == 2000 else 0
    except (AttributeError, OverflowError):  # pragma: no cover - ports without gmtime
        return 0


# MicroPython ports count time.time() in whole seconds, and some from 2000-01-01, while
# readings carry Unix time (RFC 8428 §4.5.3): use time_ns() where the port has it, and move a
# 2000 epoch to 1970.
_EPOCH_OFFSET = _epoch_offset()


def epoch():
    """Seconds since 1970-01-01, with sub-second resolution where the port has it."""
    if hasattr(time, "time_ns"):
        return time.time_ns() / 1e9 + _EPOCH_OFFSET
    return time.time() + _EPOCH_OFFSET


def monotonic():
    try:
        return time.monotonic()
    except AttributeError:  # MicroPython
        return time.ticks_ms() / 1000.0


def uniform(low, high):
    try:
        return random.uniform(low, high)
    except AttributeError:  # MicroPython without the extra random functions
        return low + (high - low) * random.getrandbits(16) / 65536.0


def emit(event, **fields):
    record = {"event": event}
    for key in fields:
        record[key] = fields[key]
    if "t" not in record:
        record["t"] = epoch()
    sys.stdout.write(json.dumps(record) + "\n")
    try:
        sys.stdout.flush()
    except AttributeError:  # pragma: no cover
        pass


def _hex(data):
    return "".join("%02x" % b for b in data)


class Observer:
    """RFC 7641 §4.1: an entry of a resource's list of observers, keyed by endpoint and token."""

    def __init__(self, peer, token, path, content_format):
        self.peer = peer
        self.token = token
        self.path = path
        self.format = content_format
        self.queue = []  # CON notifications waiting for the one in flight
        self.inflight = None  # [mid, datagram, timeout, deadline, retransmissions, sent at]
        self.current = None  # the Message in flight
        self.srtt = None  # RFC 6298 §2 smoothed round-trip time, from CON notifications' ACKs
        self.since_con = None  # NON notifications since the last CON (None: no CON yet)
        self.last_sent = None  # when the last notification left
        self.deferred = None  # the NON notification waiting for the rate limit: [due, Message]

    def owed(self):
        """CON notifications not yet acknowledged: the one in flight, then the queue."""
        if self.inflight is not None and self.current is not None:
            return [self.current] + self.queue
        return list(self.queue)


class SensorServer:
    def __init__(self, config, sock):
        self.sock = sock
        self.name = config.get("name", "s1")
        self.sensors = list(config.get("sensors", ["temperature"]))
        self.readings = int(config.get("readings", 10))
        self.interval = float(config.get("interval_s", 1.0))
        self.seed = int(config.get("seed", 1))
        self.format = FORMATS[config.get("format", "senml-json")]
        self.observe = config.get("observe")  # "con" | "non" | None
        self.max_age = int(config.get("max_age", DEFAULT_MAX_AGE))
        self.send_etag = bool(config.get("etag", False))
        self.ack_timeout = float(config.get("ack_timeout_s", ACK_TIMEOUT))
        random.seed(self.seed)
        self.mid = random.getrandbits(16)
        self.seq = {}  # sensor -> last reading's seq
        self.observers = {}  # (peer, token) -> Observer
        self.next_tick = {}  # sensor -> monotonic time of its next notification
        self.recent = {}  # (peer, mid) -> [response datagram or None, expiry]  (§4.5)
        self.sent_non = {}  # mid -> (peer, token) of NON notifications, to match a RST
        self.stranded = {}  # (peer, path) -> notifications a dropped observer still owed
        self.done = False

    # --- helpers ------------------------------------------------------------------------

    def next_mid(self):
        self.mid = (self.mid + 1) & 0xFFFF
        return self.mid

    def send(self, data, peer):
        """A datagram that cannot leave (no route, a full buffer) is lost like one on the air:
        CON retransmissions and the client's retries cover it; the server does not stop."""
        try:
            self.sock.sendto(data, peer)
        except OSError as exc:
            emit("error", what="send to [%s]:%d failed: %r" % (peer[0], peer[1], exc))

    def new_reading(self, sensor):
        """Produce reading seq + 1 of `sensor`: (seq, t, value); emits the reading event."""
        seq = self.seq.get(sensor, 0) + 1
        self.seq[sensor] = seq
        value = reading.reading_value(self.name, sensor, seq, self.seed)
        t = epoch()
        emit("reading", seq=seq, sensor=sensor, value=value, t=t)
        return seq, t, value

    def representation(self, sensor, seq, t, value, content_format):
        return reading.encode(FORMAT_NAMES[content_format], self.name, seq, t,
                              [(sensor, value)])

    def representation_options(self, payload, content_format, observe=None):
        """ETag only when configured (no sink here validates one), Max-Age only when it is
        not the default every client assumes (RFC 7252 §5.10.5): bytes no variant uses are
        not sent. Options in number order: ETag 4, Observe 6, Content-Format 12, Max-Age 14."""
        options = [(coap.ETAG, self.etag(payload))] if self.send_etag else []
        if observe is not None:
            options.append((coap.OBSERVE, coap.encode_uint(observe)))
        options.append((coap.CONTENT_FORMAT, coap.encode_uint(content_format)))
        if self.max_age != DEFAULT_MAX_AGE:
            options.append((coap.MAX_AGE, coap.encode_uint(self.max_age)))
        return options

    def etag(self, payload):
        if hashlib is not None:
            return hashlib.sha256(payload).digest()[:4]
        return coap.encode_uint(len(payload))  # pragma: no cover

    # RFC 6690 §5: link format; obs from RFC 7641 §6
    def link_format(self):
        links = []
        for sensor in self.sensors:
            link = '</sensors/%s>;rt="%s";ct=%d' % (sensor, sensor, self.format)
            if self.observe:
                link += ";obs"
            links.append(link)
        return ",".join(links).encode()

    # --- requests ------------------------------------------------------------------------

    def receive(self, data, peer):
        try:
            message = coap.decode(data)
        except coap.FormatError:
            # RFC 7252 §4.2/§4.3: reject a malformed CON with a RST, ignore anything else
            if len(data) >= 4 and data[0] >> 6 == 1 and (data[0] >> 4) & 3 == coap.CON:
                self.send(bytes((0x70, 0)) + bytes(data[2:4]), peer)
            return
        if message.mtype in (coap.ACK, coap.RST):
            self.matched(message, peer)
            return
        if message.code == coap.EMPTY:  # §4.3 CoAP ping: CON empty -> RST
            if message.mtype == coap.CON:
                self.send(coap.encode(coap.Message(coap.RST, coap.EMPTY, message.mid)), peer)
            return
        if message.code >> 5 != 0:  # a response where a request belongs: not ours (§4.2)
            if message.mtype == coap.CON:
                self.send(coap.encode(coap.Message(coap.RST, coap.EMPTY, message.mid)), peer)
            return
        key = (peer, message.mid)
        now = monotonic()
        if key in self.recent:  # §4.5: a duplicate is not processed again
            cached = self.recent[key][0]
            if cached is not None and message.mtype == coap.CON:  # §4.5: re-ACK a CON only;
                self.send(cached, peer)  # a duplicate NON is silently ignored
            return
        lifetime = EXCHANGE_LIFETIME if message.mtype == coap.CON else NON_LIFETIME
        self.recent[key] = [None, now + lifetime]
        response = self.respond(message, peer)
        if message.mtype == coap.CON:  # §5.2.1 piggybacked response
            response.mtype, response.mid = coap.ACK, message.mid
        else:  # §5.2.3 NON request -> NON response
            response.mtype, response.mid = coap.NON, self.next_mid()
        response.token = message.token
        datagram = coap.encode(response)
        self.recent[key][0] = datagram
        self.send(datagram, peer)
        for observer in self.observers.values():  # notifications a registration took over
            if observer.inflight is None and observer.queue:
                self.send_queued(observer)

    def respond(self, request, peer):
        """The response Message (type and ID set by the caller) to one request."""
        for number, _ in request.options:
            if number in (coap.PROXY_URI, coap.PROXY_SCHEME):
                return coap.Message(code=coap.PROXYING_NOT_SUPPORTED)  # §5.10.2: not a proxy
            if coap.is_critical(number) and number not in KNOWN_CRITICAL:
                return coap.Message(code=coap.BAD_OPTION)  # §5.4.1
        try:
            path = request.uri_path()
        except UnicodeError:  # RFC 7252 §5.10.1: Uri-Path is a UTF-8 string
            return coap.Message(code=coap.BAD_REQUEST)
        sensor = None
        if path.startswith("/sensors/") and path[9:] in self.sensors:
            sensor = path[9:]
        elif path != "/.well-known/core":
            return coap.Message(code=coap.NOT_FOUND)
        if request.code != coap.GET:
            return coap.Message(code=coap.METHOD_NOT_ALLOWED)
        accept = request.option(coap.ACCEPT)
        if sensor is None:  # /.well-known/core
            if accept is not None and coap.decode_uint(accept) != coap.LINK_FORMAT:
                return coap.Message(code=coap.NOT_ACCEPTABLE)
            return coap.Message(code=coap.CONTENT,
                                options=[(coap.CONTENT_FORMAT, coap.encode_uint(coap.LINK_FORMAT))],
                                payload=self.link_format())
        content_format = self.format
        if accept is not None:
            content_format = coap.decode_uint(accept)
            if content_format not in FORMAT_NAMES:
                return coap.Message(code=coap.NOT_ACCEPTABLE)
        observe = request.option(coap.OBSERVE)
        register = False
        if observe is not None and self.observe:
            observer_key = (peer, request.token)
            if coap.decode_uint(observe) == 0:  # RFC 7641 §3.1 register
                register = True
                entry = Observer(peer, request.token, path, content_format)
                entry.queue = [self.retoken(m, request.token) for m in self.owed(peer, path)]
                self.observers[observer_key] = entry
                emit("observe", peer=peer[0], port=peer[1], token=_hex(request.token),
                     handed_over=len(entry.queue))
                if sensor not in self.next_tick:
                    self.next_tick[sensor] = monotonic() + self.interval
            elif coap.decode_uint(observe) == 1:  # RFC 7641 §3.6 deregister
                self.observers.pop(observer_key, None)
        if self.observe:  # the current state, not a new reading (module docstring)
            seq = self.seq.get(sensor, 0)
            if register and entry.queue:  # older than what is handed over (module docstring)
                seq = coap.decode_uint(entry.queue[0].option(coap.OBSERVE)) - 1
            t, value = epoch(), reading.reading_value(self.name, sensor, seq, self.seed)
        else:
            seq, t, value = self.new_reading(sensor)
        payload = self.representation(sensor, seq, t, value, content_format)
        options = self.representation_options(
            payload, content_format, seq % OBSERVE_MODULO if register else None)
        self.check_done()
        return coap.Message(code=coap.CONTENT, options=options, payload=payload)

    def owed(self, peer, path):
        """Take the unacknowledged notifications `peer` is owed for `path`: those of a dropped
        observer, then those of its current entries (removed: the new registration replaces
        them)."""
        owed = self.stranded.pop((peer, path), [])
        for key in list(self.observers):
            observer = self.observers[key]
            if observer.peer == peer and observer.path == path:
                owed.extend(observer.owed())
                del self.observers[key]
        return owed

    def retoken(self, message, token):
        """The same notification for a new registration: its token, a fresh message ID."""
        return coap.Message(message.mtype, message.code, self.next_mid(), token,
                            message.options, message.payload)

    def strand(self, observer):
        """Keep what a dropped observer still owed, for its endpoint's next registration."""
        kept = self.stranded.setdefault((observer.peer, observer.path), [])
        kept.extend(observer.owed())
        while len(kept) > STRANDED_LIMIT:
            emit("dropped", seq=coap.decode_uint(kept.pop(0).option(coap.OBSERVE)),
                 why="observer gone, %d notifications kept" % STRANDED_LIMIT)

    def matched(self, message, peer):
        """An ACK or RST: ends a CON notification in flight; a RST also cancels (RFC 7641 §3.6).

        The RST-ed notification and those queued behind it were never taken in, so they are
        kept for the endpoint's next registration like a dropped observer's: aiocoap answers
        with RST when a notification came before the registration's answer, and then its
        client re-registers."""
        for key in list(self.observers):
            observer = self.observers[key]
            if observer.peer == peer and observer.inflight and observer.inflight[0] == message.mid:
                if message.mtype == coap.RST:
                    del self.observers[key]
                    self.strand(observer)
                    observer.inflight = None
                else:
                    if observer.inflight[4] == 0:  # Karn: no sample from a retransmitted one
                        sample = monotonic() - observer.inflight[5]
                        observer.srtt = sample if observer.srtt is None else \
                            0.875 * observer.srtt + 0.125 * sample
                    observer.inflight = None
                    self.send_queued(observer)
                return
        if message.mtype == coap.RST and message.mid in self.sent_non:
            self.observers.pop(self.sent_non.pop(message.mid), None)

    # --- notifications (RFC 7641 §4.2, §4.5) -----------------------------------------------

    def notify(self, sensor):
        observers = [o for o in self.observers.values() if o.path == "/sensors/" + sensor]
        if not observers:
            return
        seq, t, value = self.new_reading(sensor)
        for observer in observers:
            payload = self.representation(sensor, seq, t, value, observer.format)
            options = self.representation_options(payload, observer.format,
                                                  seq % OBSERVE_MODULO)
            mtype = coap.CON if self.observe == "con" or self.probe_due(observer) else coap.NON
            message = coap.Message(mtype, coap.CONTENT, self.next_mid(), observer.token,
                                   options, payload)
            if mtype == coap.NON:
                self.send_non(observer, message, monotonic())
            else:
                if self.observe == "non":
                    observer.since_con = 0
                    self.drop_deferred(observer, "a newer reading went as CON")
                observer.queue.append(message)
                if observer.inflight is None:
                    self.send_queued(observer)
        self.check_done()

    def probe_due(self, observer):
        """NON mode: this notification goes as a CON to measure the round-trip time (the first
        to an observer, and every NON_REFRESH-th), unless one is still in flight."""
        if observer.inflight is not None or observer.queue:
            return False
        return observer.since_con is None or observer.since_con >= NON_REFRESH

    def send_non(self, observer, message, now):
        """RFC 7641 §4.5.1: no more than one NON notification per round-trip time (3 s without
        an estimate). One that comes sooner waits; a newer reading takes its place (§4.5.2:
        a client wants the latest state), the one it replaces is a "dropped" event."""
        gap = observer.srtt if observer.srtt is not None else NON_GAP_WITHOUT_RTT
        due = now if observer.last_sent is None else observer.last_sent + gap
        if observer.deferred is not None and observer.deferred[1] is not message:
            self.drop_deferred(observer, "a newer reading within one round-trip time")
        if now < due:
            observer.deferred = [due, message]
            return
        observer.deferred = None
        observer.last_sent = now
        if observer.since_con is not None:
            observer.since_con += 1
        self.sent_non[message.mid] = (observer.peer, observer.token)
        if len(self.sent_non) > 64:
            self.sent_non.pop(next(iter(self.sent_non)))
        self.send(coap.encode(message), observer.peer)

    def drop_deferred(self, observer, why):
        """The NON notification waiting for the rate limit is stale: a "dropped" event."""
        if observer.deferred is not None:
            emit("dropped", seq=coap.decode_uint(observer.deferred[1].option(coap.OBSERVE)),
                 why="RFC 7641 4.5.1: " + why)
            observer.deferred = None

    def send_queued(self, observer):
        """RFC 7252 §4.2: send the next CON with a random initial timeout in
        [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR]."""
        if not observer.queue:
            return
        message = observer.queue.pop(0)
        datagram = coap.encode(message)
        timeout = uniform(self.ack_timeout, self.ack_timeout * ACK_RANDOM_FACTOR)
        now = monotonic()
        observer.inflight = [message.mid, datagram, timeout, now + timeout, 0, now]
        observer.current = message
        observer.last_sent = now
        self.send(datagram, observer.peer)

    def check_done(self):
        if self.done or not self.observe:
            return
        if any(o.deferred is not None for o in self.observers.values()):
            return  # the last reading still waits for the rate limit
        if all(self.seq.get(s, 0) >= self.readings for s in self.sensors):
            self.done = True
            emit("done")

    # --- timers ------------------------------------------------------------------------------

    def run_timers(self, now):
        for sensor in list(self.next_tick):
            if now >= self.next_tick[sensor]:
                self.next_tick[sensor] += self.interval
                if self.seq.get(sensor, 0) < self.readings:
                    self.notify(sensor)
        for observer in list(self.observers.values()):
            if observer.deferred is not None and now >= observer.deferred[0]:
                self.send_non(observer, observer.deferred[1], now)
                self.check_done()
        for key in list(self.observers):
            observer = self.observers[key]
            inflight = observer.inflight
            if inflight is None or now < inflight[3]:
                continue
            if inflight[4] >= MAX_RETRANSMIT:  # RFC 7641 §4.5: give up -> drop the observer
                del self.observers[key]
                self.strand(observer)
                emit("error", what="observer [%s]:%d gave up after %d retransmissions"
                     % (observer.peer[0], observer.peer[1], MAX_RETRANSMIT))
                continue
            inflight[4] += 1
            inflight[2] *= 2  # §4.2: timeout doubles with each retransmission
            inflight[3] = now + inflight[2]
            self.send(inflight[1], observer.peer)
        for key in [k for k, v in self.recent.items() if v[1] <= now]:
            del self.recent[key]

    def next_deadline(self):
        deadlines = list(self.next_tick.values())
        for observer in self.observers.values():
            if observer.inflight:
                deadlines.append(observer.inflight[3])
            if observer.deferred is not None:
                deadlines.append(observer.deferred[0])
        return min(deadlines) if deadlines else None

    def serve_forever(self):
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        while True:
            deadline = self.next_deadline()
            wait = 1000 if deadline is None else max(0, int((deadline - monotonic()) * 1000) + 1)
            if poller.poll(min(wait, 1000)):
                data, peer = self.sock.recvfrom(1280)
                self.receive(data, peer)
            self.run_timers(monotonic())


def open_socket(port):
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    address = socket.getaddrinfo("::", port, 0, socket.SOCK_DGRAM)[0][-1]
    sock.bind(address)
    return sock


def main(argv):
    with open(argv[1]) as f:
        config = json.load(f)
    sock = open_socket(int(config.get("port", 5683)))
    server = SensorServer(config, sock)
    emit("ready")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv)
