"""DNS messages as mDNS (RFC 6762) and DNS-SD (RFC 6763) use them: decode and encode.

A name is a tuple of labels (str, UTF-8 on the wire, RFC 6762 §16), so a DNS-SD instance
label may hold dots and spaces ("meter@br (2)"). `key(name)` folds ASCII case for
comparison (RFC 1035 §2.3.3). A record's rdata is by type:
    A, AAAA      the address bytes (4, 16)
    PTR, CNAME   a name
    SRV          (priority, weight, port, target name)
    TXT          a tuple of bytes strings (RFC 6763 §6: key=value each)
    NSEC         (next name, tuple of types)  RFC 6762 §6.1 negative answers
    other        the raw rdata bytes
The top bit of a question's class is mDNS's unicast-response bit (QU, RFC 6762 §5.4), of a
record's class the cache-flush bit (§10.2); both are kept apart from the class here.

Decoding follows compression pointers backwards only, so a crafted loop cannot hang the
node; anything malformed raises DNSError with the byte offset.
"""

import struct

A = 1
PTR = 12
TXT = 16
AAAA = 28
SRV = 33
NSEC = 47
CNAME = 5
ANY = 255
IN = 1

TYPE_NAMES = {A: "A", PTR: "PTR", TXT: "TXT", AAAA: "AAAA", SRV: "SRV", NSEC: "NSEC",
              CNAME: "CNAME", ANY: "ANY"}

FLAG_QR = 0x8000  # a response
FLAG_AA = 0x0400  # authoritative (RFC 6762 §18.4: set in every mDNS response)
FLAG_TC = 0x0200  # truncated: more known answers follow (RFC 6762 §7.2)
TOP_BIT = 0x8000  # QU in a question's class, cache-flush in a record's class


class DNSError(ValueError):
    """A malformed DNS message; `offset` is the byte where decoding stopped."""

    def __init__(self, offset, what):
        ValueError.__init__(self, "byte %d: %s" % (offset, what))
        self.offset = offset


def key(name):
    """A name folded for comparison (ASCII case only, as DNS does)."""
    return tuple(label.lower() for label in name)


def name_from_text(text):
    """'meter@br._presence._tcp.local' -> labels; a backslash escapes a dot or a backslash."""
    labels, label, escaped = [], "", False
    for ch in text:
        if escaped:
            label += ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ".":
            labels.append(label)
            label = ""
        else:
            label += ch
    if label:
        labels.append(label)
    return tuple(labels)


def name_text(name):
    """Labels -> the presentation form, dots and backslashes inside labels escaped."""
    return ".".join(label.replace("\\", "\\\\").replace(".", "\\.") for label in name)


class Question:
    def __init__(self, name, qtype, qclass=IN, unicast=False):
        self.name, self.qtype, self.qclass, self.unicast = tuple(name), qtype, qclass, unicast

    def __eq__(self, other):
        return (isinstance(other, Question) and key(self.name) == key(other.name)
                and (self.qtype, self.qclass, self.unicast)
                == (other.qtype, other.qclass, other.unicast))

    def __repr__(self):
        return "Question(%s %s%s)" % (name_text(self.name), TYPE_NAMES.get(self.qtype, self.qtype),
                                      " QU" if self.unicast else "")


class Record:
    def __init__(self, name, rtype, rdata, ttl, flush=False, rclass=IN):
        self.name, self.rtype, self.rdata, self.ttl = tuple(name), rtype, rdata, ttl
        self.flush, self.rclass = flush, rclass

    def same(self, other):
        """Same name, type, class and rdata (RFC 6762 §7.1: the TTL may differ)."""
        return (key(self.name) == key(other.name) and self.rtype == other.rtype
                and self.rclass == other.rclass and rdata_key(self) == rdata_key(other))

    def __eq__(self, other):
        return (isinstance(other, Record) and self.same(other) and self.ttl == other.ttl
                and self.flush == other.flush)

    def __repr__(self):
        return "Record(%s %s %r ttl=%d%s)" % (name_text(self.name),
                                             TYPE_NAMES.get(self.rtype, self.rtype),
                                             self.rdata, self.ttl, " flush" if self.flush else "")


def rdata_key(record):
    """The rdata as compared: names case-folded (RFC 6762 §8.2 compares uncompressed rdata)."""
    rdata = record.rdata
    if record.rtype in (PTR, CNAME):
        return key(rdata)
    if record.rtype == SRV:
        return (rdata[0], rdata[1], rdata[2], key(rdata[3]))
    if record.rtype == NSEC:
        return (key(rdata[0]), tuple(rdata[1]))
    if record.rtype == TXT:
        return tuple(rdata)
    return bytes(rdata)


class Message:
    def __init__(self, msg_id=0, flags=0, questions=None, answers=None, authority=None,
                 additional=None):
        self.id, self.flags = msg_id, flags
        self.questions = questions or []
        self.answers = answers or []
        self.authority = authority or []
        self.additional = additional or []

    @property
    def is_response(self):
        return bool(self.flags & FLAG_QR)

    def records(self):
        return self.answers + self.authority + self.additional

    def encode(self):
        return Encoder().message(self)

    def __repr__(self):
        return "Message(%s qd=%r an=%r ns=%r ar=%r)" % (
            "response" if self.is_response else "query", self.questions, self.answers,
            self.authority, self.additional)


# encoding ------------------------------------------------------------------------------------

class Encoder:
    """Writes one message; names are compressed against every name written before (§4.1.4)."""

    def __init__(self):
        self.out = bytearray()
        self.offsets = {}  # folded name suffix -> offset of its first label

    def name(self, name, compress=True):
        name = tuple(name)
        for i in range(len(name)):
            suffix = key(name[i:])
            at = self.offsets.get(suffix) if compress else None
            if at is not None:
                self.out += struct.pack(">H", 0xC000 | at)
                return
            if compress and len(self.out) < 0x3FFF:
                self.offsets[suffix] = len(self.out)
            label = name[i].encode()
            if not label or len(label) > 63:
                raise ValueError("label %r: 1 to 63 bytes" % name[i])
            self.out.append(len(label))
            self.out += label
        self.out.append(0)

    def message(self, msg):
        self.out += struct.pack(">HHHHHH", msg.id, msg.flags, len(msg.questions),
                                len(msg.answers), len(msg.authority), len(msg.additional))
        for q in msg.questions:
            self.name(q.name)
            self.out += struct.pack(">HH", q.qtype, q.qclass | (TOP_BIT if q.unicast else 0))
        for record in msg.records():
            self.record(record)
        return bytes(self.out)

    def record(self, record):
        self.name(record.name)
        self.out += struct.pack(">HHI", record.rtype,
                                record.rclass | (TOP_BIT if record.flush else 0), record.ttl)
        length_at = len(self.out)
        self.out += b"\0\0"
        self.rdata(record.rtype, record.rdata)
        struct.pack_into(">H", self.out, length_at, len(self.out) - length_at - 2)

    def rdata(self, rtype, rdata):
        if rtype in (PTR, CNAME):
            self.name(rdata)
        elif rtype == SRV:
            self.out += struct.pack(">HHH", rdata[0], rdata[1], rdata[2])
            self.name(rdata[3], compress=False)  # RFC 2782: no compression of the target
        elif rtype == TXT:
            strings = rdata or (b"",)  # RFC 6763 §6.1: an empty TXT is one empty string
            for s in strings:
                if len(s) > 255:
                    raise ValueError("TXT string of %d bytes: at most 255" % len(s))
                self.out.append(len(s))
                self.out += s
        elif rtype == NSEC:
            self.name(rdata[0], compress=False)  # RFC 4034 §4.1.1
            self.out += nsec_bitmap(rdata[1])
        else:
            self.out += rdata


def nsec_bitmap(types):
    """RFC 4034 §4.1.2 type bit maps (mDNS uses window 0 only, RFC 6762 §6.1)."""
    windows = {}
    for t in types:
        bits = windows.setdefault(t >> 8, bytearray(32))
        bits[(t & 0xFF) >> 3] |= 0x80 >> (t & 7)
    out = bytearray()
    for window in sorted(windows):
        bits = windows[window]
        used = len(bits)
        while used and not bits[used - 1]:
            used -= 1
        out += bytes((window, used)) + bits[:used]
    return bytes(out)


# decoding ------------------------------------------------------------------------------------

class Decoder:
    def __init__(self, data):
        self.data = bytes(data)
        self.at = 0

    def need(self, n, what):
        if self.at + n > len(self.data):
            raise DNSError(self.at, "%s: %d bytes needed, %d left" % (
                what, n, len(self.data) - self.at))

    def u16(self, what):
        self.need(2, what)
        value = struct.unpack_from(">H", self.data, self.at)[0]
        self.at += 2
        return value

    def name(self, end=None):
        """A name at self.at; pointers may only point backwards (no loops)."""
        labels, at, jumped, total = [], self.at, False, 0
        limit = len(self.data) if end is None else end
        while True:
            if at >= limit:
                raise DNSError(at, "name runs past its end")
            length = self.data[at]
            if length & 0xC0 == 0xC0:
                if at + 1 >= limit:
                    raise DNSError(at, "compression pointer cut off")
                target = ((length & 0x3F) << 8) | self.data[at + 1]
                if target >= at:
                    raise DNSError(at, "compression pointer to %d is not backwards" % target)
                if not jumped:
                    self.at = at + 2
                    jumped = True
                at, limit = target, at
                continue
            if length & 0xC0:
                raise DNSError(at, "label type 0x%02x unknown" % (length & 0xC0))
            if length == 0:
                if not jumped:
                    self.at = at + 1
                return tuple(labels)
            if at + 1 + length > limit:
                raise DNSError(at, "label of %d bytes runs past its end" % length)
            total += length + 1
            if total > 255:
                raise DNSError(at, "name longer than 255 bytes")
            raw = self.data[at + 1:at + 1 + length]
            try:
                labels.append(raw.decode())
            except UnicodeError:
                raise DNSError(at, "label is not UTF-8")
            at += 1 + length

    def question(self):
        name = self.name()
        qtype, qclass = self.u16("question type"), self.u16("question class")
        return Question(name, qtype, qclass & ~TOP_BIT, bool(qclass & TOP_BIT))

    def record(self):
        name = self.name()
        self.need(10, "record header")
        rtype, rclass, ttl, length = struct.unpack_from(">HHIH", self.data, self.at)
        self.at += 10
        start, end = self.at, self.at + length
        if end > len(self.data):
            raise DNSError(start, "rdata of %d bytes runs past the message" % length)
        rdata = self.rdata(rtype, start, end)
        self.at = end
        return Record(name, rtype, rdata, ttl, bool(rclass & TOP_BIT), rclass & ~TOP_BIT)

    def rdata(self, rtype, start, end):
        raw = self.data[start:end]
        if rtype in (PTR, CNAME):
            name = self.name(end)
            self.check_end(end, rtype)
            return name
        if rtype == SRV:
            if end - start < 7:
                raise DNSError(start, "SRV rdata of %d bytes" % (end - start))
            priority, weight, port = struct.unpack_from(">HHH", self.data, start)
            self.at = start + 6
            target = self.name(end)
            self.check_end(end, rtype)
            return (priority, weight, port, target)
        if rtype == TXT:
            strings, at = [], start
            while at < end:
                length = self.data[at]
                if at + 1 + length > end:
                    raise DNSError(at, "TXT string of %d bytes runs past its record" % length)
                strings.append(self.data[at + 1:at + 1 + length])
                at += 1 + length
            return tuple(strings)
        if rtype == NSEC:
            self.at = start
            next_name = self.name(end)
            return (next_name, tuple(self.bitmap(self.at, end)))
        if rtype == A and len(raw) != 4 or rtype == AAAA and len(raw) != 16:
            raise DNSError(start, "%s rdata of %d bytes" % (TYPE_NAMES[rtype], len(raw)))
        return raw

    def check_end(self, end, rtype):
        if self.at != end:
            raise DNSError(self.at, "%s rdata has %d bytes after its name" % (
                TYPE_NAMES.get(rtype, rtype), end - self.at))

    def bitmap(self, at, end):
        types = []
        while at < end:
            if at + 2 > end:
                raise DNSError(at, "NSEC bitmap window cut off")
            window, length = self.data[at], self.data[at + 1]
            if not 1 <= length <= 32 or at + 2 + length > end:
                raise DNSError(at, "NSEC bitmap of %d bytes" % length)
            for i in range(length):
                byte = self.data[at + 2 + i]
                for bit in range(8):
                    if byte & (0x80 >> bit):
                        types.append(window * 256 + i * 8 + bit)
            at += 2 + length
        return types


def decode(data):
    """A Message from the bytes of one UDP payload; DNSError names the offset of a defect."""
    d = Decoder(data)
    d.need(12, "header")
    msg_id, flags, qd, an, ns, ar = struct.unpack_from(">HHHHHH", d.data, 0)
    d.at = 12
    msg = Message(msg_id, flags)
    msg.questions = [d.question() for _ in range(qd)]
    msg.answers = [d.record() for _ in range(an)]
    msg.authority = [d.record() for _ in range(ns)]
    msg.additional = [d.record() for _ in range(ar)]
    return msg
