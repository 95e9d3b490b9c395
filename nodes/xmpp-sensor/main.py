"""xmpp-sensor: an XMPP sensor node (RFC 6120 client) for MicroPython and CPython.

Run: `micropython main.py CONFIG.json` (or python3). Config keys: see manifest.toml and
docs/CONTRACTS.md "Issue 02". Events go to stdout as JSON lines (ready, phase setup, reading,
queued, dropped, done, reconnect, error, stopped). Modes:
  message  a <message/> with the reading's payload element (stanzas.payload, in the config's
           "format": SenML JSON by default) to `sink` every interval_s
  pubsub   an XEP-0060 §7.1 publish of that payload to pubsub_service / pubsub_node
  iq       answer the sink's <iq type='get'><req xmlns='urn:xmpp:iot:sensordata'/></iq> with an
           iq result carrying the payload at once. XEP-0323 §3.1 answers a readout request with
           <accepted/> and delivers the fields later in <message/>s; the synchronous IQ result is
           a deliberate deviation: one round trip per reading, the cheapest on-demand readout.
Every session answers XMPP pings (XEP-0199) and any other IQ get/set with service-unavailable
(RFC 6120 §8.4), sends a whitespace keepalive (RFC 6120 §4.6.1) when idle.

Like a deployed client, the sensor never gives up before it is stopped: a failed connect, a
stream error, a server silent for server_timeout_s or a dropped connection all end the session
with a "reconnect" event and a new attempt after a backoff (backoff.py: full jitter, base 1 s,
factor 2, cap 15 s, seeded from name and seed). The push modes' reading clock starts with the
first session and keeps running without one: a reading produced while disconnected (or while
a session is being set up) is queued ("queued" event) in a bounded outbox (outbox.py, 32 by
default, config "queue_limit") and sent after reconnecting, or, pushed out of a full outbox,
counted as lost ("dropped" event). A "reading" event means the stanza was written to the
connection; pubsub publishes not acknowledged when a connection drops are sent again.

With config "stream_management" (XEP-0198, stream_management.py) a message-mode sensor enables
acks and resumption after binding, asks for an ack (<r/>) every sm_ack_every readings, after
its last one and in place of the whitespace keepalive while readings are unacked, and is done
only when the server has acked them all. After a drop it resumes the session (no bind, no
presence) and writes again the readings the server's h says it never had; the "setup" phase
says resumed true/false.
"""

import json
import sys
import time

import stanzas
from backoff import Backoff
from client import Closed, ServerTimeout, Session, StreamError
from outbox import Outbox
from reading import reading_value
from sigterm import stop_on_sigterm
from stream_management import StreamManagement


class ServerFound(Exception):
    """An XMPP server appeared on the link while the sensor was serverless: move to it."""


# what a key means when CONFIG.json leaves it out (the runner normally passes manifest.toml's)
#: How long a stopping sensor waits for the server's closing stream tag.
CLOSE_LINGER_S = 2.0

DEFAULTS = {
    "port": 5222,
    "domain": "iot.testbed",
    "resource": "sensor",
    "mode": "message",
    "starttls": False,
    "sasl": "PLAIN",
    "readings": 10,
    "interval_s": 1.0,
    "seed": 1,
    "keepalive_s": 30.0,
    "server_timeout_s": 30.0,
    "queue_limit": 32,
    "backoff_base_s": 1.0,
    "backoff_factor": 2.0,
    "backoff_cap_s": 15.0,
    "discovery": "none",
    "serverless": False,
    "collector": "sink@br",
    "discovery_timeout_s": 3.0,
    "stream_management": False,
    "sm_ack_every": 4,
}



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


def emit(event, **fields):
    fields["event"] = event
    if "t" not in fields:
        fields["t"] = epoch()
    sys.stdout.write(json.dumps(fields) + "\n")
    try:
        sys.stdout.flush()
    except AttributeError:  # pragma: no cover - some MicroPython ports
        pass


class Sensor:
    def __init__(self, config):
        merged = dict(DEFAULTS)
        merged.update(config)
        config = self.config = merged
        self.name = config["name"]
        self.mode = config.get("mode", "message")
        self.readings = int(config.get("readings", 10))
        self.interval_s = float(config.get("interval_s", 1.0))
        self.sensors = config.get("sensors") or ["temperature"]
        self.seed = int(config.get("seed", 1))
        self.payload = config.get("format", "senml-json")  # reading.FORMATS
        self.keepalive_s = float(config.get("keepalive_s", 30.0))
        self.backoff = Backoff(self.name, self.seed, float(config["backoff_base_s"]),
                               float(config["backoff_factor"]), float(config["backoff_cap_s"]))
        self.outbox = Outbox(int(config["queue_limit"]))
        self.seq = 0  # readings produced so far (the last seq used)
        self.acked = set()  # pubsub: the seqs whose publish result came
        self.unacked = {}  # pubsub: seq -> reading published, result not yet in
        self.done = False
        self.session = None
        self.online = False  # a session is open: readings go out at once
        self.next_push = None  # the reading clock; None until the first session is up
        self.last_sent = time.time()
        self.discovery = None  # discovery.Discovery when config "discovery" is "mdns"
        self.serverless = False  # the open session is a XEP-0174 link-local stream
        # XEP-0198 for message mode (pubsub has its own acks: the publish results)
        self.sm = StreamManagement() if config["stream_management"] and self.mode == "message" \
            else None
        self.sm_ack_every = max(1, int(config["sm_ack_every"]))

    # readings ---------------------------------------------------------------------------

    def produce(self):
        """A new reading: (seq, t, values)."""
        self.seq += 1
        t = epoch()
        values = [
            (s, reading_value(self.name, s, self.seq, self.seed)) for s in self.sensors
        ]
        return (self.seq, t, values)

    def report(self, reading):
        seq, t, values = reading
        for sensor, value in values:
            emit("reading", seq=seq, sensor=sensor, value=value, t=t)

    def send(self, text, reading=None):
        """Write a stanza (counted by stream management, with the reading it carries)."""
        self.session.send_stanza(text, reading)
        self.last_sent = time.time()

    def queue(self, reading):
        pushed_out = self.outbox.put(reading)
        emit("queued", seq=reading[0], queued=len(self.outbox))
        if pushed_out is not None:
            self.dropped([pushed_out])

    def dropped(self, readings):
        for reading in readings:
            emit("dropped", seq=reading[0], why="outbox full (%d readings)" % self.outbox.limit)

    def transmit(self, reading):
        """Write one reading's stanza to the session (raises Closed if it drops)."""
        seq, t, values = reading
        payload = stanzas.payload(self.payload, self.name, seq, t, values)
        if self.serverless:  # XEP-0174: a message to the collector's instance name
            self.send(stanzas.message(self.config["collector"], payload))
        elif self.mode == "message":
            self.send(stanzas.message(self.config["sink"], payload), reading)
            if self.session.sm_on and self.sm.readings_unacked() >= self.sm_ack_every:
                self.session.request_ack()
        else:
            self.unacked[seq] = reading
            self.send(
                stanzas.publish(
                    self.config["pubsub_service"],
                    self.config["pubsub_node"],
                    str(seq),
                    payload,
                    "p%d" % seq,
                )
            )
        self.report(reading)

    def flush(self):
        """Send the queued readings, oldest first; one leaves the outbox once it was written."""
        while len(self.outbox):
            self.transmit(self.outbox.peek())
            self.outbox.pop()

    # push modes: the reading clock ---------------------------------------------------------

    def tick(self):
        """Produce the readings that are due; send them when online, else queue them."""
        if self.mode == "iq" or self.next_push is None:
            return
        now = time.time()
        while self.seq < self.readings and now >= self.next_push:
            reading = self.produce()
            self.next_push += self.interval_s
            if self.next_push < now:  # late (a blocking connect): no burst of catch-up readings
                self.next_push = now + self.interval_s
            if self.online and not len(self.outbox):
                self.transmit(reading)
            else:
                self.queue(reading)
                if self.online:
                    self.flush()

    # incoming stanzas ---------------------------------------------------------------------

    def handle(self, stanza):
        if stanza.local != "iq":
            return  # messages and presence: nothing for a sensor to do
        kind, iq_id, sender = stanza.get("type"), stanza.get("id", ""), stanza.get("from")
        if kind == "result" or kind == "error":
            if iq_id.startswith("p"):
                try:
                    seq = int(iq_id[1:])
                except ValueError:
                    return
                self.unacked.pop(seq, None)
                if kind == "result":
                    self.acked.add(seq)
                else:
                    emit("error", what="publish %s refused" % iq_id)
            return
        child = stanza.children[0] if stanza.children else None
        if (
            kind == "get"
            and child is not None
            and child.local == "ping"
            and child.get("xmlns") == stanzas.NS_PING
        ):
            self.send(stanzas.iq_result(sender, iq_id))  # XEP-0199 §4.2
        elif (
            self.mode == "iq"
            and kind == "get"
            and child is not None
            and child.local == "req"
            and child.get("xmlns") == stanzas.NS_SENSORDATA
        ):
            reading = self.produce()
            seq, t, values = reading
            try:
                self.send(stanzas.iq_result(sender, iq_id, stanzas.payload(
                    self.payload, self.name, seq, t, values)))
            except StreamError:
                self.seq -= 1  # never sent: the next readout asks for this reading again
                raise
            self.report(reading)
        else:
            self.send(stanzas.iq_error_unavailable(sender, iq_id))

    # the run --------------------------------------------------------------------------------

    def target(self):
        """Where the next session goes: ("server", address, port) or ("peer", instance,
        address, port). With mDNS discovery a sensor that needs a server looks until it finds
        one (as a client with nowhere else to go does); a serverless one waits
        discovery_timeout_s for a server, then takes the XEP-0174 peer, and after twice that
        with neither returns None."""
        if self.discovery is None:
            return ("server", self.config["server"], self.config["port"])
        start, sent = epoch(), self.discovery.sent()
        deadline = time.time() + float(self.config["discovery_timeout_s"])
        found = None
        while found is None:
            server = self.discovery.server()
            peer = self.discovery.peer(self.config["collector"])
            if server is not None:
                found = ("server", server[0], server[1])
            elif peer is not None and self.config["serverless"] and time.time() >= deadline:
                found = ("peer", self.config["collector"], peer[0], peer[1])
            elif self.config["serverless"] and time.time() >= deadline + float(
                    self.config["discovery_timeout_s"]):
                break  # neither: start over after a backoff (a reconnect event says so)
            else:
                self.tick()
                self.discovery.sleep(0.05)
        now = self.discovery.sent()
        emit("phase", name="discovery", start=start, end=epoch(),
             found=found[0] if found else "nothing", mdns_packets=now[0] - sent[0],
             mdns_bytes=now[1] - sent[1])
        return found

    def connect(self):
        found = self.target()
        if found is None:
            raise Closed("no XMPP server (and no XEP-0174 peer %s) found on the link"
                         % self.config["collector"])
        start = epoch()
        if found[0] == "server":
            config = dict(self.config)
            config["server"], config["port"] = found[1], found[2]
            if self.discovery is not None and found[1].lower().startswith("fe80"):
                config["server"] = "%s%%%s" % (found[1], self.discovery.interface)
            self.session = Session(config, self.handle, idle=self.tick,
                                   discovery=self.discovery, sm=self.sm)
            self.serverless = False
        else:
            from linklocal import LinkLocalSession

            self.session = LinkLocalSession(self.config, self.handle, self.discovery.instance,
                                            found[1], found[2], found[3], idle=self.tick,
                                            discovery=self.discovery)
            self.serverless = True
        self.session.open()
        resumed = self.session.resumed is not None
        if self.session.lost:  # XEP-0198 <failed/>: the server may not have had them
            self.dropped(self.outbox.requeue(self.session.lost))
        if self.serverless:
            self.discovery.present()
        elif self.discovery is not None:
            self.discovery.absent()
            self.discovery.connected(True)
        if self.mode == "iq" and not self.serverless:
            # RFC 6121 §4.6: directed presence, so the sink sees our full JID
            self.session.send_stanza(stanzas.presence(self.config["sink"]))
        end = epoch()
        emit(
            "phase",
            name="setup",
            start=start,
            end=end,
            tls=self.session.tls,
            sent_bytes=self.session.sent_bytes,
            serverless=self.serverless,
            resumed=resumed,
        )
        emit("ready", jid=self.session.jid, serverless=self.serverless)
        self.last_sent = time.time()
        self.online = True
        if self.next_push is None:
            self.next_push = time.time()  # the reading clock starts with the first session
        for reading in self.session.resumed or ():  # written before, never had: again
            self.transmit(reading)
        self.flush()

    def finished(self):
        if self.mode == "pubsub":
            return self.seq >= self.readings and len(self.acked) >= self.readings
        if self.sm is not None and self.session.sm_on and self.sm.readings_unacked():
            return False
        return self.seq >= self.readings and not len(self.outbox)

    def serve(self):
        """One session: push/answer readings, keepalive; returns never (raises on a drop)."""
        while True:
            self.tick()
            if (self.session.sm_on and self.seq >= self.readings and not len(self.outbox)
                    and self.sm.readings_unacked()):
                self.session.request_ack()  # all written: how many did the server get?
            if not self.done and self.finished():
                self.done = True
                emit("done")
            if time.time() - self.last_sent >= self.keepalive_s:
                if self.session.sm_on and self.sm.readings_unacked():
                    self.session.request_ack()  # XEP-0198 §4: an <r/> keeps alive and asks
                else:
                    self.session.send(" ")  # RFC 6120 §4.6.1 whitespace keepalive
                self.last_sent = time.time()
            if self.serverless and self.discovery.server() is not None:
                raise ServerFound("an XMPP server appeared on the link")
            wait = min(self.keepalive_s, 1.0)
            if self.next_push is not None and self.mode != "iq" and self.seq < self.readings:
                wait = max(0.0, min(wait, self.next_push - time.time()))
            self.session.poll(max(wait, 0.01))

    def disconnected(self, why):
        """The session ended: close it; pubsub items it did not confirm go back to the outbox."""
        self.online = False
        if self.discovery is not None:
            self.discovery.connected(False)
        if self.session is not None:
            self.session.close()
        if self.unacked:
            self.dropped(self.outbox.requeue([self.unacked[seq] for seq in sorted(self.unacked)]))
            self.unacked = {}
        delay = self.backoff.next_delay()
        emit("reconnect", attempt=self.backoff.attempt, delay_s=round(delay, 3), why=why,
             queued=len(self.outbox))
        self.wait(delay)

    def wait(self, seconds):
        """Sleep `seconds` while the reading clock keeps running (and mDNS answers)."""
        deadline = time.time() + seconds
        while True:
            self.tick()
            left = deadline - time.time()
            if left <= 0:
                return
            if self.discovery is not None:
                self.discovery.sleep(min(left, 0.1))
            else:
                time.sleep(min(left, 0.1))

    def run(self):
        delay = float(self.config.get("start_delay_s", 0) or 0)
        try:
            if self.config["discovery"] == "mdns":
                from discovery import Discovery

                try:
                    self.discovery = Discovery(self.config, emit)
                except OSError as exc:  # no such interface, port 5353 taken: say it, stop
                    emit("error", what="mDNS on %s: %s" % (
                        (self.config.get("mdns") or {}).get("interface", "wpan0"), exc))
                    return 1
            if delay > 0:  # a seeded offset, so sensors that cannot hear each other start apart
                self.wait(delay)
            while True:
                try:
                    self.connect()
                    self.backoff.reset()
                    self.serve()
                except ServerFound as exc:  # leave the link-local stream for the server
                    self.online = False
                    self.session.close(linger=CLOSE_LINGER_S)
                    self.session = None
                    emit("reconnect", attempt=0, delay_s=0.0, why=str(exc),
                         queued=len(self.outbox))
                    continue
                except (Closed, ServerTimeout) as exc:  # dropped or silent: try again
                    what = str(exc)
                except StreamError as exc:  # refused (SASL, binding...): say so, still retry
                    what = str(exc)
                    emit("error", what=what)
                except OSError as exc:  # name resolution, TLS handshake, a socket call
                    what = "%s: %s" % (exc.__class__.__name__, exc)
                self.disconnected(what)
        except KeyboardInterrupt:  # SIGINT, or SIGTERM (main): end the session cleanly
            # said first: on a congested path the close may outlast the runner's patience
            emit("stopped", produced=self.seq, queued=len(self.outbox))
            if self.session is not None and self.online:
                self.session.close(linger=CLOSE_LINGER_S)
            if self.discovery is not None:
                self.discovery.close()  # goodbye: TTL 0 for what the sensor announced
            return 0


def main(argv):
    stop_on_sigterm()
    if len(argv) < 2:
        sys.stderr.write("usage: main.py CONFIG.json\n")
        return 2
    with open(argv[1]) as f:
        config = json.load(f)
    try:
        return Sensor(config).run()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv) or 0)
