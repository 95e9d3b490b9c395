"""XEP-0198 stream management on the sensor's side: counts, acks, and what a resumption resends.

Why a sensor wants it: a dropped TCP connection otherwise costs a whole new session (stream,
SASL, restart, bind, presence: ~1 KB from the node) and the readings written into the dead
connection are lost or sent twice. With `<enable resume='true'/>` the server keeps the session
for a while; after a new TCP connect and SASL the node sends `<resume h= previd=/>` instead of
binding, the server says how many of the node's stanzas it had (`h`, §4), and only those after
it go again.

The counters are the XEP's: `sent` counts every stanza the node wrote after <enable/> (message,
presence, iq; not nonzas such as <r/>, <a/> or whitespace), `handled` every stanza it received
(§4: h is the count of handled stanzas, mod 2^32). `unacked` keeps, per stanza not yet acked,
the reading it carried (None for a stanza whose loss needs no repair: a ping answer, presence).
"""

NS_SM = "urn:xmpp:sm:3"
MOD = 1 << 32

ENABLE = "<enable xmlns='%s' resume='true'/>" % NS_SM
REQUEST = "<r xmlns='%s'/>" % NS_SM


def answer(h):
    """<a/>: the stanzas this side has handled (§4)."""
    return "<a xmlns='%s' h='%d'/>" % (NS_SM, h % MOD)


def resume(h, previd):
    """<resume/> (§5): what this side handled and the session it wants back."""
    from xmltok import escape

    return "<resume xmlns='%s' h='%d' previd='%s'/>" % (NS_SM, h % MOD, escape(previd))


class StreamManagement:
    def __init__(self):
        self.resume_id = None  # the server's id from <enabled/>; None: nothing to resume
        self.jid = None  # the full JID bound in the session that can be resumed
        self.sent = 0
        self.handled = 0
        self.unacked = []  # [(stanza number, reading or None)], oldest first
        self.requested = False  # an <r/> is out and its <a/> not in yet

    def enabled(self, element):
        """Take <enabled/>: a fresh session, counters from zero."""
        self.resume_id = element.get("id") if element.get("resume") in ("true", "1") else None
        self.sent = self.handled = 0
        self.unacked = []
        self.requested = False

    def counted(self, reading=None):
        """One more stanza written; `reading` is what it carried, if any."""
        self.sent = (self.sent + 1) % MOD
        self.unacked.append((self.sent, reading))

    def acked(self, h):
        """The server has `h` of our stanzas: forget them; the readings among them, oldest
        first. An h beyond what was sent is the server's error (§4): taken as 'all'."""
        h = int(h) % MOD
        done = []
        while self.unacked and ((h - self.unacked[0][0]) % MOD) < (MOD >> 1):
            reading = self.unacked.pop(0)[1]
            if reading is not None:
                done.append(reading)
        self.requested = False
        return done

    def resumed(self, h):
        """The server took the session back at `h`: the readings it never had, oldest first,
        to be written again (and counted again from h)."""
        self.acked(h)
        again = [reading for _, reading in self.unacked if reading is not None]
        self.sent = int(h) % MOD
        self.unacked = []
        return again

    def failed(self):
        """The session is gone (<failed/>, or nothing to resume): the readings it may not have
        had, oldest first, and no session to resume any more."""
        again = [reading for _, reading in self.unacked if reading is not None]
        self.resume_id = None
        self.unacked = []
        self.requested = False
        return again

    def readings_unacked(self):
        return sum(1 for _, reading in self.unacked if reading is not None)
