"""Multicast DNS (RFC 6762) responder and querier with DNS-SD (RFC 6763), for the node apps.

The engine is driven from outside, so the same code runs on a board, in an emulated node and
under a test's clock: `receive(data, source, now)` takes one UDP payload, `poll(now)` fires
what is due; both leave packets in `outgoing` ((bytes, destination), destination None for the
multicast group) and events in `events`; `deadline()` says when to poll next. `Link` and
`run()` below put it on a real socket.

What it does, with the RFC's numbers (each mechanism can be switched off for a study, by the
name in MECHANISMS):
  probing           3 probes 250 ms apart after a random 0-250 ms wait, the proposed records
                    in the authority section (§8.1); a response naming a probed name, or a
                    simultaneous probe that wins the tie-break (§8.2), renames ("x (2)" for an
                    instance, "x-2" for a host) and probes again (§9)
  announcing        two unsolicited responses 1 s apart, cache-flush bit on unique records (§8.3)
  response_delay    answers holding a shared record (PTR) wait 20-120 ms (§6)
  known_answer      queries list the answers the cache holds with more than half their TTL left;
                    a responder leaves out what a query already knows (§7.1)
  duplicate_answer  a delayed answer another responder sends first is not sent again (§7.4)
  rate_limit        a record is multicast at most once per second, 250 ms for probe defence (§6)
  cache_refresh     a record still wanted is asked for at 80, 85, 90 and 95 % of its TTL plus
                    0-2 %, and dropped at 100 % (§5.2)
  goodbye           on stop every record goes out once with TTL 0 (§10.1)
TTLs: 120 s for records holding a host name (AAAA, SRV), 4500 s for the others (§10).
Continuous querying (§5.2): a browse asks after 20-120 ms, then 1 s later, doubling to 60 min.
"""

import dnsmsg
from dnsmsg import AAAA, ANY, FLAG_AA, FLAG_QR, PTR, SRV, TXT, Message, Question, Record, key
from prng import Xorshift32

PORT = 5353
GROUP = "ff02::fb"
HOST_TTL = 120
OTHER_TTL = 4500
PROBE_WAIT_S = 0.250
PROBES = 3
ANNOUNCEMENTS = 2
ANNOUNCE_GAP_S = 1.0
SHARED_DELAY_S = (0.020, 0.120)
RATE_LIMIT_S = 1.0
DEFENCE_RATE_LIMIT_S = 0.250
LOST_TIE_WAIT_S = 1.0
REFRESH_AT = (0.80, 0.85, 0.90, 0.95)
REFRESH_JITTER = 0.02
FIRST_QUERY_S = (0.020, 0.120)
QUERY_INTERVAL_MAX_S = 3600.0
GOODBYE_EXPIRE_S = 1.0
FLUSH_GRACE_S = 1.0
LEGACY_TTL = 10
CACHE_LIMIT = 128
ASK_TRIES = 6  # one-off questions: 20-120 ms, then 1, 2, 4, 8, 16 s later

MECHANISMS = ("probing", "announcing", "response_delay", "known_answer", "duplicate_answer",
              "rate_limit", "cache_refresh", "goodbye")
SERVICES_META = ("_services", "_dns-sd", "_udp", "local")


def local(*labels):
    return tuple(labels) + ("local",)


class Owned:
    """A name this node claims (its host name or a service instance) and its records."""

    def __init__(self, kind, label, stype=None):
        self.kind, self.label, self.stype = kind, label, stype  # kind: "host" or "service"
        self.state = "probing"
        self.attempt = 1  # 2 after the first rename, ...

    def name(self):
        return local(self.label) if self.kind == "host" else (self.label,) + self.stype

    def rename(self):
        base = self.label
        if self.attempt > 1:
            suffix = " (%d)" % self.attempt if self.kind == "service" else "-%d" % self.attempt
            base = base[:-len(suffix)]
        self.attempt += 1
        suffix = " (%d)" % self.attempt if self.kind == "service" else "-%d" % self.attempt
        self.label = base + suffix


class Service:
    def __init__(self, instance, stype, port, txt):
        self.stype = local(*stype.split(".")) if isinstance(stype, str) else tuple(stype)
        self.port, self.txt = port, txt
        self.owned = Owned("service", instance, self.stype)


class CacheEntry:
    def __init__(self, record, now):
        self.record = record
        self.received = now
        self.expires = now + record.ttl
        self.refresh = []  # the times left to ask again (cache_refresh)


class MDNS:
    def __init__(self, host, addresses, seed=1, mechanisms=None, host_ttl=HOST_TTL,
                 other_ttl=OTHER_TTL):
        self.mechanisms = {}
        for name in MECHANISMS:
            self.mechanisms[name] = True
        for name, on in (mechanisms or {}).items():
            if name not in self.mechanisms:
                raise ValueError("unknown mDNS mechanism %r (known: %s)" % (name,
                                                                           ", ".join(MECHANISMS)))
            self.mechanisms[name] = bool(on)
        self.host = Owned("host", host)
        self.addresses = [bytes(a) for a in addresses]
        self.host_ttl, self.other_ttl = host_ttl, other_ttl
        self.random = Xorshift32("mdns-%s-%s" % (host, seed))
        self.services = []
        self.outgoing = []  # (bytes, destination or None for the group)
        self.events = []  # dicts
        self.sent = {}  # kind -> [packets, bytes]: probe, announce, response, query, goodbye
        self.last_multicast = {}  # record identity -> when it was last multicast
        self.probe_at = None
        self.probes_sent = 0
        self.announce_at = None
        self.announces_sent = 0
        self.pending = []  # delayed responses: [due, answers, additional]
        self.cache = {}  # record identity -> CacheEntry
        self.browsing = {}  # folded service type -> [type name, next query time, interval]
        self.asking = {}  # (folded name, type) -> [next query time, interval, tries]: one-offs
        self.found = {}  # folded instance name -> the service event last emitted
        self.started = False

    # set-up ------------------------------------------------------------------------------------

    def on(self, mechanism):
        return self.mechanisms[mechanism]

    def publish(self, instance, stype, port, txt=(), now=None):
        """Claim a DNS-SD service instance; txt: (key, value) pairs in order. After start()
        (`now` given) the new name is probed and announced on its own."""
        service = Service(instance, stype, port, txt)
        self.services.append(service)
        if self.started and now is not None:
            self.event("probing", name=dnsmsg.name_text(service.owned.name()))
            self.restart_probing(service.owned, now, 0.0)
        return service

    def withdraw(self, service, now):
        """Stop claiming `service`: its records go out once with TTL 0 (§10.1)."""
        if service not in self.services:
            return
        records = []
        if service.owned.state != "probing" and self.on("goodbye"):
            records = [r for r in self.service_records(service, 0, 0)]
        self.services.remove(service)
        if records:
            self.send("goodbye", Message(0, FLAG_QR | FLAG_AA, answers=records))

    def browse(self, stype, now):
        """Continuous querying for a service type (§5.2)."""
        name = local(*stype.split(".")) if isinstance(stype, str) else tuple(stype)
        self.browsing[key(name)] = [name, now + self.random.between(*FIRST_QUERY_S), 1.0]

    def start(self, now):
        self.started = True
        owned = self.owned()
        if self.on("probing"):
            self.probe_at = now + self.random.between(0.0, PROBE_WAIT_S)
            self.probes_sent = 0
            for o in owned:
                o.state = "probing"
                self.event("probing", name=dnsmsg.name_text(o.name()))
        else:
            self.probed(now)

    def owned(self):
        return [self.host] + [s.owned for s in self.services]

    # the records this node answers with ---------------------------------------------------------

    def host_records(self, ttl=None):
        name = self.host.name()
        ttl = self.host_ttl if ttl is None else ttl
        return [Record(name, AAAA, a, ttl, flush=True) for a in self.addresses]

    def service_records(self, service, ttl_host=None, ttl_other=None):
        """SRV and TXT (unique), the type's PTR and the DNS-SD enumeration PTR (shared)."""
        ttl_host = self.host_ttl if ttl_host is None else ttl_host
        ttl_other = self.other_ttl if ttl_other is None else ttl_other
        instance = service.owned.name()
        txt = tuple(("%s=%s" % (k, v)).encode() for k, v in service.txt)
        return [
            Record(service.stype, PTR, instance, ttl_other),
            Record(SERVICES_META, PTR, service.stype, ttl_other),
            Record(instance, SRV, (0, 0, service.port, self.host.name()), ttl_host, flush=True),
            Record(instance, TXT, txt, ttl_other, flush=True),
        ]

    def records(self, states=("ready", "announcing")):
        """Every record of names in `states`."""
        out = []
        if self.host.state in states:
            out += self.host_records()
        for s in self.services:
            if s.owned.state in states and self.host.state in ("ready", "announcing"):
                out += self.service_records(s)
        return out

    def unique_records_of(self, owned):
        if owned.kind == "host":
            return self.host_records()
        for s in self.services:
            if s.owned is owned:
                return [r for r in self.service_records(s) if r.flush]
        return []

    # sending -----------------------------------------------------------------------------------

    def send(self, kind, msg, destination=None):
        data = msg.encode()
        self.outgoing.append((data, destination))
        count = self.sent.setdefault(kind, [0, 0])
        count[0] += 1
        count[1] += len(data)

    def event(self, kind, **fields):
        fields["mdns"] = kind
        self.events.append(fields)

    def multicast_response(self, kind, answers, additional, now, defence=False):
        """Send `answers` to the group, leaving out records multicast too recently (§6)."""
        if self.on("rate_limit"):
            limit = DEFENCE_RATE_LIMIT_S if defence else RATE_LIMIT_S
            answers = [r for r in answers
                       if now - self.last_multicast.get(identity(r), -1e9) >= limit]
        if not answers:
            return
        for r in answers:
            self.last_multicast[identity(r)] = now
        known = [identity(r) for r in answers]
        additional = [r for r in additional if identity(r) not in known]
        self.send(kind, Message(0, FLAG_QR | FLAG_AA, answers=answers, additional=additional))

    # timers ------------------------------------------------------------------------------------

    def deadline(self):
        times = [t for t in (self.probe_at, self.announce_at) if t is not None]
        times += [p[0] for p in self.pending]
        times += [b[1] for b in self.browsing.values()]
        times += [a[0] for a in self.asking.values()]
        for entry in self.cache.values():
            times.append(entry.expires)
            if entry.refresh:
                times.append(entry.refresh[0])
        return min(times) if times else None

    def poll(self, now):
        if self.probe_at is not None and now >= self.probe_at:
            self.probe(now)
        if self.announce_at is not None and now >= self.announce_at:
            self.announce(now)
        due = [p for p in self.pending if p[0] <= now]
        if due:
            self.pending = [p for p in self.pending if p[0] > now]
            answers, additional = [], []
            for _, a, extra in due:
                answers += [r for r in a if all(not r.same(x) for x in answers)]
                additional += extra
            self.multicast_response("response", answers, additional, now)
        self.expire(now)
        self.query(now)

    # probing and announcing ----------------------------------------------------------------------

    def probing(self):
        return [o for o in self.owned() if o.state == "probing"]

    def probe(self, now):
        probing = self.probing()
        if not probing:
            self.probe_at = None
            return
        if self.probes_sent == PROBES:  # 250 ms after the last probe, nobody objected
            self.probe_at = None
            self.probed(now)
            return
        questions, authority = [], []
        for o in probing:
            # §8.1: the first probe asks for a unicast answer
            questions.append(Question(o.name(), ANY, unicast=self.probes_sent == 0))
            authority += self.unique_records_of(o)
        self.send("probe", Message(0, 0, questions=questions, authority=authority))
        self.probes_sent += 1
        self.probe_at = now + PROBE_WAIT_S

    def probed(self, now):
        for o in self.owned():
            if o.state == "probing":
                o.state = "announcing"
                self.event("claimed", name=dnsmsg.name_text(o.name()))
        if self.on("announcing"):
            self.announces_sent = 0
            self.announce_at = now
        else:
            self.announced()

    def announce(self, now):
        records = self.records(("announcing",))
        if records:
            self.send("announce", Message(0, FLAG_QR | FLAG_AA, answers=records))
            for r in records:
                self.last_multicast[identity(r)] = now
        self.announces_sent += 1
        if self.announces_sent >= ANNOUNCEMENTS:
            self.announce_at = None
            self.announced()
        else:
            self.announce_at = now + ANNOUNCE_GAP_S

    def announced(self):
        for o in self.owned():
            if o.state == "announcing":
                o.state = "ready"

    def conflict(self, owned, now, why):
        old = dnsmsg.name_text(owned.name())
        owned.rename()
        self.event("conflict", name=old, renamed=dnsmsg.name_text(owned.name()), why=why)
        self.restart_probing(owned, now, 0.0)

    def restart_probing(self, owned, now, wait):
        owned.state = "probing"
        self.announce_at = None
        if self.on("probing"):
            self.probes_sent = 0
            self.probe_at = now + wait + self.random.between(0.0, PROBE_WAIT_S)
        else:
            self.probed(now)

    def stop(self, now):
        """Goodbye (§10.1): every record once more with TTL 0."""
        if not self.on("goodbye"):
            return
        records = []
        for r in self.records():
            r.ttl = 0
            records.append(r)
        if records:
            self.send("goodbye", Message(0, FLAG_QR | FLAG_AA, answers=records))

    # receiving ---------------------------------------------------------------------------------

    def receive(self, data, source, now):
        """One UDP payload from `source` ((address, port)); malformed ones are counted, dropped."""
        try:
            msg = dnsmsg.decode(data)
        except (dnsmsg.DNSError, IndexError) as exc:
            self.event("malformed", source=str(source[0]), why=str(exc))
            return
        if msg.is_response:
            self.received_response(msg, now)
        else:
            self.received_query(msg, source, now)

    def received_query(self, msg, source, now):
        if msg.authority:
            self.received_probe(msg, now)
        legacy = source[1] != PORT  # §6.7: a one-shot querier wants a plain DNS answer
        answers, additional, shared = [], [], False
        for q in msg.questions:
            for r in self.answers_to(q):
                if self.on("known_answer") and any(k.same(r) and k.ttl >= r.ttl // 2
                                                   for k in msg.answers):
                    continue
                if all(not r.same(x) for x in answers):
                    answers.append(r)
                    shared = shared or not r.flush
        if not answers:
            return
        additional = self.additional_for(answers)
        if legacy or any(q.unicast for q in msg.questions):
            self.unicast_response(msg, answers, additional, source, legacy)
            return
        delay = 0.0
        if shared and self.on("response_delay"):
            delay = self.random.between(*SHARED_DELAY_S)
        if delay:
            self.pending.append([now + delay, answers, additional])
        else:
            self.multicast_response("response", answers, additional, now)

    def unicast_response(self, msg, answers, additional, source, legacy):
        if legacy:
            for r in answers + additional:
                r.ttl, r.flush = min(r.ttl, LEGACY_TTL), False
            reply = Message(msg.id, FLAG_QR | FLAG_AA, questions=msg.questions, answers=answers,
                            additional=additional)
        else:
            reply = Message(0, FLAG_QR | FLAG_AA, answers=answers, additional=additional)
        self.send("response", reply, source)

    def answers_to(self, q):
        wanted = key(q.name)
        return [r for r in self.records() if key(r.name) == wanted
                and (q.qtype == ANY or q.qtype == r.rtype)]

    def additional_for(self, answers):
        """RFC 6763 §12: a PTR brings its SRV, TXT and address records, an SRV its addresses."""
        out = []
        mine = self.records()
        for r in answers:
            if r.rtype == PTR:
                out += [x for x in mine if key(x.name) == key(r.rdata) and x.rtype in (SRV, TXT)]
            if r.rtype in (PTR, SRV):
                out += [x for x in mine if x.rtype == AAAA]
        unique = []
        for r in out:
            if all(not r.same(x) for x in unique + answers):
                unique.append(r)
        return unique

    def received_probe(self, msg, now):
        """Another host probes: defend a name we hold, or break a tie for one we probe (§8.2)."""
        for o in self.owned():
            name = key(o.name())
            theirs = [r for r in msg.authority if key(r.name) == name]
            if not theirs:
                continue
            ours = self.unique_records_of(o)
            if o.state == "probing":
                if compare_sets(ours, theirs) < 0:  # ours sorts first: we lose
                    self.event("lost-tie", name=dnsmsg.name_text(o.name()))
                    self.restart_probing(o, now, LOST_TIE_WAIT_S)
            elif not same_set(ours, theirs):
                self.multicast_response("response", ours, [], now, defence=True)

    def received_response(self, msg, now):
        records = msg.answers + msg.additional
        for o in self.owned():
            name = key(o.name())
            ours = self.unique_records_of(o)
            clash = [r for r in records if key(r.name) == name and r.ttl > 0
                     and not any(r.same(x) for x in ours)]
            if not clash:
                continue
            if o.state == "probing":
                self.conflict(o, now, "answered by another host: %r" % clash[0])
            elif any(r.flush for r in clash):  # §9: a conflicting unique record
                self.event("conflict-seen", name=dnsmsg.name_text(o.name()))
                self.restart_probing(o, now, 0.0)
        if self.on("duplicate_answer") and self.pending:
            for p in self.pending:  # §7.4: another host sent it with a TTL no less than ours
                keep = []
                for r in p[1]:
                    if any(x.same(r) and x.ttl >= r.ttl for x in records):
                        self.last_multicast[identity(r)] = now  # as if we had sent it
                    else:
                        keep.append(r)
                p[1] = keep
            self.pending = [p for p in self.pending if p[1]]
        self.cache_records(records, now)

    # the cache and what it finds -----------------------------------------------------------------

    def cache_records(self, records, now):
        fresh = [identity(r) for r in records]
        for r in records:
            if r.flush and r.ttl:  # §10.2: older records of the set expire in 1 s
                for ident, entry in self.cache.items():
                    old = entry.record
                    if (ident not in fresh and key(old.name) == key(r.name)
                            and old.rtype == r.rtype and now - entry.received > FLUSH_GRACE_S):
                        entry.expires = min(entry.expires, now + FLUSH_GRACE_S)
                        entry.refresh = []
        left = []
        for r in records:
            if r.ttl == 0:  # goodbye: gone in 1 s (§10.1)
                entry = self.cache.get(identity(r))
                if entry is not None:
                    entry.expires = min(entry.expires, now + GOODBYE_EXPIRE_S)
                    entry.refresh = []
            else:
                left.append(r)
        taken = True
        while taken:  # an address may come before the SRV that makes it wanted
            taken = False
            for r in list(left):
                if self.wanted(r):
                    self.remember(r, now)
                    left.remove(r)
                    taken = True
        if len(self.cache) > CACHE_LIMIT:
            for ident in sorted(self.cache, key=lambda i: self.cache[i].expires)[:len(self.cache)
                                                                                 - CACHE_LIMIT]:
                del self.cache[ident]
        self.update_found(now)

    def remember(self, r, now):
        entry = CacheEntry(r, now)
        if self.on("cache_refresh"):
            entry.refresh = [now + r.ttl * (f + self.random.between(0.0, REFRESH_JITTER))
                             for f in REFRESH_AT]
        self.cache[identity(r)] = entry
        self.asking.pop((key(r.name), r.rtype), None)

    def wanted(self, r):
        """A record of a browsed type, of an instance found, or an address of its host."""
        name = key(r.name)
        if r.rtype == PTR:
            return name in self.browsing
        for entry in self.cache.values():
            c = entry.record
            if c.rtype == PTR and key(c.rdata) == name and r.rtype in (SRV, TXT):
                return True
            if c.rtype == SRV and key(c.rdata[3]) == name and r.rtype == AAAA:
                return True
        return False

    def cached(self, name, rtype):
        name = key(name)
        return [e.record for e in self.cache.values()
                if key(e.record.name) == name and e.record.rtype == rtype]

    def update_found(self, now):
        seen = {}
        for stype_key, browse in self.browsing.items():
            for ptr in self.cached(browse[0], PTR):
                instance = ptr.rdata
                srv = self.cached(instance, SRV)
                txt = self.cached(instance, TXT)
                if not srv:
                    self.ask(instance, SRV, now)
                if not txt:
                    self.ask(instance, TXT, now)
                if not srv:
                    continue
                target = srv[0].rdata[3]
                addresses = self.cached(target, AAAA)
                if not addresses:
                    self.ask(target, AAAA, now)
                    continue
                found = {
                    "mdns": "service",
                    "instance": instance[0],
                    "type": dnsmsg.name_text(browse[0][:-1]),
                    "host": dnsmsg.name_text(target),
                    "port": srv[0].rdata[2],
                    "addresses": sorted(format_ipv6(a.rdata) for a in addresses),
                    "txt": txt_strings(txt[0].rdata if txt else ()),
                }
                seen[key(instance)] = found
                if self.found.get(key(instance)) != found:
                    self.found[key(instance)] = found
                    self.events.append(dict(found))
        for instance in list(self.found):
            if instance not in seen and not self.cached(instance, SRV):
                gone = self.found.pop(instance)
                self.event("service-removed", instance=gone["instance"], type=gone["type"])

    def ask(self, name, rtype, now):
        """Ask for one record (SRV, TXT or an address) until it is cached: after 20-120 ms,
        then 1, 2, 4 ... s (§5.2's intervals), ASK_TRIES times at most."""
        ident = (key(name), rtype)
        if ident not in self.asking:
            self.asking[ident] = [now + self.random.between(*FIRST_QUERY_S), 1.0, 0]

    def expire(self, now):
        gone = [i for i, e in self.cache.items() if e.expires <= now]
        for ident in gone:
            del self.cache[ident]
        if gone:
            self.update_found(now)

    # querying ------------------------------------------------------------------------------------

    def query(self, now):
        questions = []
        for browse in self.browsing.values():
            if now >= browse[1]:
                questions.append(Question(browse[0], PTR))
                browse[1] = now + browse[2]
                browse[2] = min(browse[2] * 2, QUERY_INTERVAL_MAX_S)
        for ident, asked in list(self.asking.items()):
            if now >= asked[0]:
                entries = [e for e in self.cache.values() if identity(e.record)[:2] == ident]
                if entries or asked[2] >= ASK_TRIES:
                    del self.asking[ident]
                    continue
                questions.append(Question(self.name_for(ident), ident[1]))
                asked[0], asked[1], asked[2] = now + asked[1], asked[1] * 2, asked[2] + 1
        for entry in self.cache.values():
            if entry.refresh and now >= entry.refresh[0]:
                while entry.refresh and now >= entry.refresh[0]:
                    entry.refresh.pop(0)
                r = entry.record
                questions.append(Question(r.name, r.rtype))
        unique = []
        for q in questions:
            if all(key(q.name) != key(x.name) or q.qtype != x.qtype for x in unique):
                unique.append(q)
        if not unique:
            return
        known = []
        if self.on("known_answer"):  # §7.1: answers with more than half their TTL left
            for q in unique:
                for e in self.cache.values():
                    r = e.record
                    left = e.expires - now
                    if key(r.name) == key(q.name) and r.rtype == q.qtype and left > r.ttl / 2:
                        known.append(Record(r.name, r.rtype, r.rdata, int(left), r.flush))
        self.send("query", Message(0, 0, questions=unique, answers=known))

    def name_for(self, ident):
        for browse in self.browsing.values():
            if key(browse[0]) == ident[0]:
                return browse[0]
        for entry in self.cache.values():
            r = entry.record
            for name in (r.rdata if r.rtype == PTR else None,
                         r.rdata[3] if r.rtype == SRV else None):
                if name is not None and key(name) == ident[0]:
                    return name
        return ident[0]


def txt_strings(strings):
    """TXT key=value strings as text; a value that is not UTF-8 (RFC 6763 §6.5 allows binary
    values) is kept with its bytes escaped rather than stopping the node."""
    out = []
    for raw in strings:
        if not raw:
            continue
        try:
            out.append(raw.decode())
        except UnicodeError:
            out.append("".join(chr(b) if 32 <= b < 127 else "\\x%02x" % b for b in raw))
    return out


def identity(r):
    return (key(r.name), r.rtype, r.rclass, dnsmsg.rdata_key(r))


def rdata_wire(r):
    e = dnsmsg.Encoder()
    e.rdata(r.rtype, r.rdata)
    return bytes(e.out)


def compare_sets(ours, theirs):
    """§8.2 tie-break: sort each side by class, type, rdata; compare in turn; the longer
    list wins a tie of its prefix. < 0 when ours is lexicographically earlier (we lose)."""
    def order(records):
        return sorted((r.rclass, r.rtype, rdata_wire(r)) for r in records)
    a, b = order(ours), order(theirs)
    for x, y in zip(a, b):
        if x != y:
            return -1 if x < y else 1
    return (len(a) > len(b)) - (len(a) < len(b))


def same_set(ours, theirs):
    return all(any(r.same(x) for x in theirs) for r in ours) and \
        all(any(r.same(x) for x in ours) for r in theirs)


def format_ipv6(raw):
    """RFC 5952 text of 16 address bytes (MicroPython has no inet_ntop on every port)."""
    groups = [(raw[i] << 8) | raw[i + 1] for i in range(0, 16, 2)]
    best, best_len, i = -1, 1, 0
    while i < 8:
        if groups[i] == 0:
            j = i
            while j < 8 and groups[j] == 0:
                j += 1
            if j - i > best_len:
                best, best_len = i, j - i
            i = j
        else:
            i += 1
    parts = ["%x" % g for g in groups]
    if best < 0:
        return ":".join(parts)
    return ":".join(parts[:best]) + "::" + ":".join(parts[best + best_len:])
