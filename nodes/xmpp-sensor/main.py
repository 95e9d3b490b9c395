"""xmpp-sensor: an XMPP sensor node (RFC 6120 client) for MicroPython and CPython.

Run: `micropython main.py CONFIG.json` (or python3). Config keys: see manifest.toml and
docs/CONTRACTS.md "Issue 02". Events go to stdout as JSON lines (ready, phase setup, reading,
done, reconnect, error). Modes:
  message  a <message/> with the XEP-0323-shaped <fields/> payload to `sink` every interval_s
  pubsub   an XEP-0060 §7.1 publish of that payload to pubsub_service / pubsub_node
  iq       answer the sink's <iq type='get'><req xmlns='urn:xmpp:iot:sensordata'/></iq> with an
           iq result carrying <fields/> at once. XEP-0323 §3.1 answers a readout request with
           <accepted/> and delivers the fields later in <message/>s; the synchronous IQ result is
           a deliberate deviation: one round trip per reading, the cheapest on-demand readout.
Every session answers XMPP pings (XEP-0199) and any other IQ get/set with service-unavailable
(RFC 6120 §8.4), sends a whitespace keepalive (RFC 6120 §4.6.1) when idle, and reconnects with
exponential backoff when the TCP connection drops.
"""

import json
import sys
import time

import stanzas
from client import Closed, Session, StreamError


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
        self.keepalive_s = float(config.get("keepalive_s", 30.0))
        self.seq = 0  # readings produced so far (the last seq used)
        self.acked = 0  # pubsub: publish results received
        self.done = False
        self.session = None
        self.last_sent = time.time()

    # the payload of reading `seq` -------------------------------------------------------

    def produce(self):
        self.seq += 1
        t = epoch()
        values = [
            (s, stanzas.reading_value(self.name, s, self.seq, self.seed)) for s in self.sensors
        ]
        return t, values, stanzas.fields(self.name, self.seq, t, values)

    def report(self, t, values):
        for sensor, value in values:
            emit("reading", seq=self.seq, sensor=sensor, value=value, t=t)

    def send(self, text):
        self.session.send(text)
        self.last_sent = time.time()

    # push modes ---------------------------------------------------------------------------

    def push(self):
        t, values, payload = self.produce()
        if self.mode == "message":
            self.send(stanzas.message(self.config["sink"], payload))
        else:
            self.send(
                stanzas.publish(
                    self.config["pubsub_service"],
                    self.config["pubsub_node"],
                    str(self.seq),
                    payload,
                    "p%d" % self.seq,
                )
            )
        self.report(t, values)

    # incoming stanzas ---------------------------------------------------------------------

    def handle(self, stanza):
        if stanza.local != "iq":
            return  # messages and presence: nothing for a sensor to do
        kind, iq_id, sender = stanza.get("type"), stanza.get("id", ""), stanza.get("from")
        if kind == "result" or kind == "error":
            if iq_id.startswith("p"):
                if kind == "result":
                    self.acked += 1
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
            t, values, payload = self.produce()
            self.send(stanzas.iq_result(sender, iq_id, payload))
            self.report(t, values)
        else:
            self.send(stanzas.iq_error_unavailable(sender, iq_id))

    # the run --------------------------------------------------------------------------------

    def connect(self):
        start = epoch()
        self.session = Session(self.config, self.handle)
        self.session.open()
        if self.mode == "iq":  # RFC 6121 §4.6: directed presence, so the sink sees our full JID
            self.session.send(stanzas.presence(self.config["sink"]))
        end = epoch()
        emit(
            "phase",
            name="setup",
            start=start,
            end=end,
            tls=self.session.tls,
            sent_bytes=self.session.sent_bytes,
        )
        emit("ready", jid=self.session.jid)
        self.last_sent = end

    def finished(self):
        if self.mode == "pubsub":
            return self.seq >= self.readings and self.acked >= self.readings
        return self.seq >= self.readings

    def serve(self):
        """One session: push/answer readings, keepalive; returns never (raises Closed on drop)."""
        next_push = time.time()
        while True:
            now = time.time()
            if self.mode != "iq" and self.seq < self.readings and now >= next_push:
                self.push()
                next_push += self.interval_s
                if next_push < now:
                    next_push = now + self.interval_s
            if not self.done and self.finished():
                self.done = True
                emit("done")
            if now - self.last_sent >= self.keepalive_s:
                self.send(" ")  # RFC 6120 §4.6.1 whitespace keepalive
            wait = min(self.keepalive_s, 1.0)
            if self.mode != "iq" and self.seq < self.readings:
                wait = max(0.0, min(wait, next_push - time.time()))
            self.session.poll(max(wait, 0.01))

    def run(self):
        attempt = 0
        delay = float(self.config.get("start_delay_s", 0) or 0)
        if delay > 0:  # a seeded offset, so sensors that cannot hear each other start apart
            time.sleep(delay)
        while True:
            try:
                self.connect()
                attempt = 0
                self.serve()
            except Closed as exc:
                what = str(exc)
            except StreamError as exc:  # authentication or protocol failure: retrying will not help
                emit("error", what=str(exc))
                return 1
            except KeyboardInterrupt:  # SIGINT, or SIGTERM (main): end the session cleanly
                if self.session is not None:
                    self.session.close(linger=CLOSE_LINGER_S)
                emit("stopped")
                return 0
            if self.session is not None:
                self.session.close()
            attempt += 1
            delay = min(30.0, 0.5 * 2 ** (attempt - 1))
            emit("reconnect", attempt=attempt, delay_s=delay, why=what)
            time.sleep(delay)


def _stop_on_sigterm():
    """SIGTERM ends the session like Ctrl-C does (ports without `signal` just die)."""
    try:
        import signal
    except ImportError:  # pragma: no cover - MicroPython bare-metal ports
        return

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def main(argv):
    _stop_on_sigterm()
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
