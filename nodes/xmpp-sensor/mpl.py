"""MPL (RFC 7731, Multicast Protocol for Low-Power and Lossy Networks), proactive forwarding,
so that mDNS sent to the site-scope group ff05::fb reaches every node of a multi-hop PAN.

A seed sends a datagram to the MPL domain (here ff05::fb itself, a scope-5 address) with an
MPL option in a hop-by-hop header: seed id elided (S=0, the seed is the IPv6 source
address), a sequence number. Every forwarder that receives a (seed, sequence) it has not seen
delivers it and transmits the unchanged IPv6 datagram again under a Trickle timer (RFC 6206):
intervals of DATA_IMIN (DATA_IMAX = DATA_IMIN: no doubling), a transmission at a random time
in the second half of each interval unless it heard the same message K times in it, for
DATA_EXPIRATIONS intervals (RFC 7731 §5.4 defaults: K 1, 3 expirations; Imin 10 x the
expected link latency: 64 ms for a two-fragment datagram on 802.15.4). The seed itself sends
under the same Trickle. No control messages (reactive forwarding is off, §5.4).

Pure: `packet(...)`/`parse(...)` build and read the IPv6 datagrams, `Forwarder` decides;
the caller moves bytes (testbed/experiment/mdns_swarm.py on Linux nodes, via AF_PACKET since
Linux drops datagrams with an MPL option it does not know: type 0x6D's top bits 01 say so).
"""

import struct

OPTION = 0x6D  # RFC 7731 §4.2 (IANA)
HBH = 0
UDP = 17
DATA_IMIN = 0.064
DATA_K = 1
DATA_EXPIRATIONS = 3
SEEN_LIFETIME_S = 20.0  # how long a (seed, sequence) is remembered: far less than a seed
# takes to wrap its 8-bit sequence (256 messages), far more than a message's Trickle (0.2 s)
SEEN_LIMIT = 4096  # and at most this many, the oldest forgotten first


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def packet(src, dst, sequence, sport, dport, payload, hop_limit=255):
    """IPv6 | HBH (MPL option, S=0, padded to 8 bytes) | UDP | payload."""
    udp_length = 8 + len(payload)
    pseudo = src + dst + struct.pack(">IxxxB", udp_length, UDP)
    udp = struct.pack(">HHHH", sport, dport, udp_length, 0) + payload
    csum = checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack(">H", csum) + udp[8:]
    # HBH: next header, length 0 (8 bytes), MPL option (type, len 2, S|M|V|rsv, sequence),
    # then PadN of 0 data bytes to fill the 8
    hbh = bytes((UDP, 0, OPTION, 2, 0x00, sequence & 0xFF, 1, 0))
    body = hbh + udp
    header = struct.pack(">IHBB", 0x60000000, len(body), HBH, hop_limit) + src + dst
    return header + body


def parse(data):
    """(src, dst, sequence, hop_limit, sport, dport, payload) of an MPL datagram, else None."""
    if len(data) < 40 + 8 + 8 or data[0] >> 4 != 6 or data[6] != HBH:
        return None
    hop_limit, src, dst = data[7], data[8:24], data[24:40]
    length = (data[41] + 1) * 8
    if len(data) < 40 + length + 8:
        return None
    at, end, sequence = 42, 40 + length, None
    while at < end:
        kind = data[at]
        if kind == 0:  # Pad1
            at += 1
            continue
        if at + 1 >= end:
            return None
        size = data[at + 1]
        if kind == OPTION and size >= 2:
            if data[at + 2] >> 6 != 0:  # only S=0 (seed = source) is built here
                return None
            sequence = data[at + 3]
        at += 2 + size
    if sequence is None or data[40] != UDP:
        return None
    sport, dport, udp_length = struct.unpack_from(">HHH", data, end)
    return (bytes(src), bytes(dst), sequence, hop_limit, sport, dport,
            bytes(data[end + 8:end + udp_length]))


class Message:
    def __init__(self, datagram, now, random):
        self.datagram = datagram
        self.random = random
        self.expirations = 0
        self.start(now)

    def start(self, now):
        self.begin = now
        self.counter = 0
        self.fire = now + self.random.between(DATA_IMIN / 2, DATA_IMIN)
        self.fired = False


class Forwarder:
    """The seed set and the Trickle timers of one MPL forwarder (which is also a seed)."""

    def __init__(self, random, address):
        self.random = random
        self.address = bytes(address)
        self.sequence = 0
        self.seen = {}  # (seed, sequence) -> Message (None once its timer is done)
        self.order = []  # (time remembered, key), oldest first
        self.outgoing = []  # datagrams to put on the air now
        self.sent = [0, 0]  # transmissions and bytes, originated and forwarded

    def originate(self, dst, sport, dport, payload, now):
        """A datagram of this node's own to the MPL domain `dst`."""
        self.forget(now)
        self.sequence = (self.sequence + 1) & 0xFF
        datagram = packet(self.address, dst, self.sequence, sport, dport, payload)
        self.remember((self.address, self.sequence), Message(datagram, now, self.random), now)
        self.outgoing.append(datagram)  # the seed's first transmission goes at once
        self.sent[0] += 1
        self.sent[1] += len(datagram)

    def receive(self, data, now):
        """A datagram heard on the link: the parsed tuple if it is new (deliver it), else None."""
        parsed = parse(data)
        if parsed is None:
            return None
        key = (parsed[0], parsed[2])
        self.forget(now)
        if parsed[0] == self.address:
            message = self.seen.get(key)
            if message is not None:
                message.counter += 1  # a copy of our own: it made its way
            return None
        if key in self.seen:
            message = self.seen[key]
            if message is not None:
                message.counter += 1  # consistent: §5.3
            return None
        if parsed[3] > 1:  # forward with the hop limit one lower
            datagram = bytearray(data)
            datagram[7] = parsed[3] - 1
            self.remember(key, Message(bytes(datagram), now, self.random), now)
        else:
            self.remember(key, None, now)
        return parsed

    def remember(self, key, message, now):
        if key not in self.seen:
            self.order.append((now, key))
        self.seen[key] = message
        while len(self.order) > SEEN_LIMIT:
            self.seen.pop(self.order.pop(0)[1], None)

    def forget(self, now):
        """Drop what was remembered SEEN_LIFETIME_S ago: a seed's sequence may come round."""
        while self.order and now - self.order[0][0] > SEEN_LIFETIME_S:
            key = self.order.pop(0)[1]
            if self.seen.get(key) is None:  # a message still being forwarded stays
                self.seen.pop(key, None)
            else:
                self.order.append((now, key))

    def deadline(self):
        times = []
        for message in self.seen.values():
            if message is not None:
                times.append(message.begin + DATA_IMIN if message.fired else message.fire)
        return min(times) if times else None

    def poll(self, now):
        for key, message in list(self.seen.items()):
            if message is None:
                continue
            if not message.fired and now >= message.fire:
                message.fired = True
                if message.counter < DATA_K:
                    self.outgoing.append(message.datagram)
                    self.sent[0] += 1
                    self.sent[1] += len(message.datagram)
            if message.fired and now >= message.begin + DATA_IMIN:
                message.expirations += 1
                if message.expirations >= DATA_EXPIRATIONS:
                    self.seen[key] = None
                else:
                    message.start(now)
