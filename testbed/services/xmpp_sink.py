"""The XMPP sink: a slixmpp client in the cloud that receives every reading (ground truth).

`python -m testbed.services.xmpp_sink CONFIG.json` logs in as sink@domain and, per mode:
  message  records each <message/> carrying a reading's payload element (services/payload.py:
           SenML JSON, SenML CBOR, XEP-0323 <fields/> or text);
  pubsub   creates each sensor's node on pubsub.<domain> with publish_model "open" (XEP-0060
           §8.1.3; the sink is the pubsub service's admin, see prosody.py), subscribes to it
           (§6.1) and records the event notifications (§7.1.2.1);
  iq       waits for each sensor's presence, then every interval_s sends
           <iq type='get'><req xmlns='urn:xmpp:iot:sensordata' seqnr='N' momentary='true'/></iq>
           to its full JID, `readings` times, and records the payload in the result.
It prints READY once it can receive (pubsub: after every node exists and is subscribed), DONE
when it has finished polling (iq), and writes one JSONL line per reading it got:
  {"node": "s1", "seq": 3, "sensor": "temperature", "value": 22.5, "t_node": ..., "t_sink": ...}
TLS: STARTTLS is required, and the server certificate is verified against the self-signed
certificate prosody made (`cafile`), host name included. Without TLS, plaintext is allowed.

`XmppSink(...)` is the context manager that runs this module inside a namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from ipaddress import IPv6Address
from pathlib import Path
from typing import IO, Any

from testbed.errors import TestbedError
from testbed.backends.processes import dies_with_parent, stop_process
from testbed.jsonlines import read_json_lines
from testbed.services.payload import ELEMENTS as PAYLOAD_ELEMENTS
from testbed.services.payload import find_element, parse_element

NS_SENSORDATA = "urn:xmpp:iot:sensordata"
READY_TIMEOUT_S = 30.0
IQ_TIMEOUT_S = 30.0
READOUT_ATTEMPTS = 4  # iq mode: tries of one readout before it counts as lost (issue 06)


class SinkError(TestbedError):
    """The XMPP sink would not start, log in or get ready in time."""


# reading the payload ----------------------------------------------------------------------


def deliveries_from_payload(element: ET.Element, t_sink: float, *, sender: str | None = None,
                            t_request: float | None = None) -> Iterator[dict[str, Any]]:
    """One delivery record per reading in a payload element (services/payload.py).

    `sender` is who the server says sent it (the authenticated JID's local part, or the
    pubsub node's owner): a payload claiming another node is recorded under the sender,
    with the claim, so a mix-up cannot pass for a delivery."""
    for reading in parse_element(element):
        record = {
            "node": sender or reading.node,
            "seq": reading.seq,
            "sensor": reading.sensor,
            "value": reading.value,
            "t_node": reading.t,
            "t_sink": t_sink,
        }
        if sender is not None and reading.node is not None and reading.node != sender:
            record["claimed_node"] = reading.node
        if t_request is not None:
            record["t_request"] = t_request
        yield record


def write_deliveries(out: IO[str], element: ET.Element, t_sink: float, *, sender: str | None,
                     t_request: float | None = None, via: str | None = None) -> int:
    """Append the stanza's delivery records to `out`; return how many.

    A malformed payload (a sequence number, time or value that does not parse) is one warning
    line naming the sender, and none of its records: a half-recorded stanza would pass for a
    partial delivery, and an exception here only reached slixmpp's traceback log."""
    try:
        records = list(deliveries_from_payload(element, t_sink, sender=sender, t_request=t_request))
    except ValueError as exc:
        logging.warning("%s: malformed sensor data, not recorded: %s", sender or "?", exc)
        return 0
    if via is not None:
        for record in records:
            record["via"] = via
    out.writelines(json.dumps(record) + "\n" for record in records)
    return len(records)


# the slixmpp client (runs in the sink process) ---------------------------------------------


def run_sink(config: dict[str, Any]) -> None:
    import slixmpp
    from slixmpp.exceptions import IqError, IqTimeout
    from slixmpp.xmlstream.handler import Callback
    from slixmpp.xmlstream.matcher import MatchXPath

    domain = config["domain"]
    out = open(config["deliveries"], "a", buffering=1)  # noqa: SIM115 - lives as long as the process

    def record(parent: ET.Element, sender: str | None,
               t_request: float | None = None) -> None:
        element = find_element(parent)
        if element is None:
            return
        write_deliveries(out, element, time.time(), sender=sender, t_request=t_request)

    xmpp = slixmpp.ClientXMPP(f"{config.get('user', 'sink')}@{domain}/sink", config["password"])
    # slixmpp names each stanza with uuid4().hex: 32 bytes in every readout request and again
    # in its answer, where a CoAP request carries a 2-byte token. RFC 6120 §8.1.3 asks only
    # that an id be unique within the stream: a counter in hex is (1-2 bytes for a run).
    ids = itertools.count(1)
    xmpp.new_id = lambda: f"{next(ids):x}"
    xmpp.register_plugin("xep_0030")
    xmpp.register_plugin("xep_0004")
    xmpp.register_plugin("xep_0060")
    xmpp.register_plugin("xep_0199")
    tls = bool(config.get("tls"))
    xmpp.enable_direct_tls = False
    xmpp.enable_starttls = tls
    xmpp.enable_plaintext = not tls
    if tls:
        xmpp.ca_certs = Path(config["cafile"])  # the self-signed cert is its own CA: verified
    else:
        xmpp.plugin["feature_mechanisms"].unencrypted_plain = True
        xmpp.plugin["feature_mechanisms"].unencrypted_scram = True
    mode = config["mode"]
    nodes: dict[str, str] = config["nodes"]  # name -> full JID
    present: dict[str, asyncio.Event] = {name: asyncio.Event() for name in nodes}
    by_jid = {jid: name for name, jid in nodes.items()}
    service = config.get("pubsub_service", f"pubsub.{domain}")
    done = asyncio.Event()

    def on_message(msg: Any) -> None:
        record(msg.xml, msg["from"].user)

    def on_publish(msg: Any) -> None:
        items = msg["pubsub_event"]["items"]
        owner = str(items["node"]).rsplit("/", 1)[-1]  # sensors/<name>: only <name> publishes
        record(items["item"].xml, owner)

    def on_presence(presence: Any) -> None:
        name = by_jid.get(str(presence["from"]))
        if name is not None:
            present[name].set()

    asked: dict[str, float] = {}  # iq id -> when the readout was sent (its t_request)

    def on_readout(iq: Any) -> None:
        """Every readout result, also one that comes after its wait timed out (a congested
        path): the sensor sent that reading and the sink got it, so it counts."""
        if iq["type"] == "result":
            record(iq.xml, iq["from"].user, asked.pop(iq["id"], None))

    def on_unavailable(presence: Any) -> None:  # RFC 6121 §4.6.3: the sensor went offline
        name = by_jid.get(str(presence["from"]))
        if name is not None:
            present[name].clear()

    async def poll(name: str) -> None:
        """`readings` readouts, one every interval_s. A readout that fails (the sensor is
        offline, reconnecting, or the answer did not come) is asked again once the sensor is
        available, up to READOUT_ATTEMPTS times: an on-demand reading is only lost when the
        sensor stays unreachable. A result that comes late is still recorded (on_readout)."""
        seq, attempts = 1, 0
        while seq <= int(config["readings"]):
            if attempts:  # after a failure, for its next presence (not forever: it may be on)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(present[name].wait(), IQ_TIMEOUT_S)
            else:
                await present[name].wait()
            started = time.monotonic()
            iq = xmpp.make_iq_get(ito=nodes[name])
            iq.append(
                ET.Element(f"{{{NS_SENSORDATA}}}req", {"seqnr": str(seq), "momentary": "true"})
            )
            asked[iq["id"]] = time.time()
            attempts += 1
            try:
                await iq.send(timeout=IQ_TIMEOUT_S)  # on_readout records the result
            except (IqError, IqTimeout) as exc:
                logging.warning("%s: readout %d (attempt %d) failed: %s", name, seq, attempts,
                                exc)
                if attempts < READOUT_ATTEMPTS:
                    if isinstance(exc, IqError):  # offline: wait for its next presence
                        present[name].clear()
                    continue
            seq, attempts = seq + 1, 0
            await asyncio.sleep(
                max(0.0, float(config["interval_s"]) - (time.monotonic() - started))
            )

    async def prepare_pubsub() -> None:
        form = xmpp.plugin["xep_0004"].make_form("submit")
        form.add_field(
            "FORM_TYPE", value="http://jabber.org/protocol/pubsub#node_config", ftype="hidden"
        )
        form.add_field("pubsub#publish_model", value="open")
        for name in nodes:
            node = config.get("pubsub_nodes", {}).get(name, f"sensors/{name}")
            try:
                await xmpp.plugin["xep_0060"].create_node(service, node, config=form)
            except IqError as exc:
                if exc.condition != "conflict":  # the node already exists: fine
                    raise
            await xmpp.plugin["xep_0060"].subscribe(service, node)

    async def on_session_start(_event: Any) -> None:
        try:
            xmpp.send_presence()
            await xmpp.get_roster()
            if mode == "pubsub":
                await prepare_pubsub()
            print("READY", flush=True)
            if mode == "iq":
                await asyncio.gather(*(poll(name) for name in nodes))
                print("DONE", flush=True)
        except Exception as exc:  # reported on stdout so XmppSink's error shows it
            print(f"ERROR {type(exc).__name__}: {exc}", flush=True)
            done.set()

    def on_failure(*_args: Any) -> None:
        print("ERROR authentication failed", flush=True)
        done.set()

    xmpp.add_event_handler("session_start", on_session_start)
    xmpp.add_event_handler("failed_all_auth", on_failure)
    # slixmpp's "message" event only fires for messages with a <body/>: match the payload instead
    for tag in PAYLOAD_ELEMENTS:  # one handler per payload format (services/payload.py)
        xmpp.register_handler(
            Callback(f"sensor data {tag}", MatchXPath(f"{{jabber:client}}message/{tag}"),
                     on_message))
        xmpp.register_handler(
            Callback(f"sensor readout {tag}", MatchXPath(f"{{jabber:client}}iq/{tag}"),
                     on_readout))
    xmpp.add_event_handler("pubsub_publish", on_publish)
    xmpp.add_event_handler("presence_available", on_presence)
    xmpp.add_event_handler("presence_unavailable", on_unavailable)
    xmpp.add_event_handler("disconnected", lambda *_: done.set())

    loop = asyncio.get_event_loop()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    xmpp.connect(config["server"], int(config.get("port", 5222)))
    loop.run_until_complete(done.wait())
    out.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m testbed.services.xmpp_sink CONFIG.json", file=sys.stderr)
        return 2
    config = json.loads(Path(argv[1]).read_text())
    logging.basicConfig(
        level=os.environ.get("TESTBED_SINK_LOG", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    run_sink(config)
    return 0


# the context manager (runs in the orchestrator) ---------------------------------------------


class XmppSink:
    """Runs the sink inside `netns`; __enter__ waits for READY; __exit__ stops it, keeps `log`."""

    def __init__(
        self,
        *,
        netns: str,
        server: IPv6Address | str,
        domain: str = "iot.testbed",
        user: str = "sink",
        password: str,
        mode: str,
        nodes: dict[str, str],
        pubsub_service: str | None = None,
        pubsub_nodes: dict[str, str] | None = None,
        readings: int,
        interval_s: float,
        tls: bool = False,
        cafile: Path | None = None,
        deliveries: Path,
        log: Path,
        private_dir: Path | None = None,
        ready_timeout_s: float = READY_TIMEOUT_S,
    ) -> None:
        if mode not in ("message", "pubsub", "iq"):
            raise SinkError(f"XMPP sink mode {mode!r}: expected one of message, pubsub, iq")
        if tls and cafile is None:
            raise SinkError("the XMPP sink needs the server's certificate (cafile) for TLS")
        self.netns = netns
        self.config = {
            "server": str(server),
            "port": 5222,
            "domain": domain,
            "user": user,
            "password": password,
            "mode": mode,
            "nodes": dict(nodes),
            "pubsub_service": pubsub_service or f"pubsub.{domain}",
            "pubsub_nodes": dict(pubsub_nodes or {}),  # name -> node; default sensors/<name>
            "readings": readings,
            "interval_s": interval_s,
            "tls": tls,
            "cafile": str(cafile) if cafile else None,
            "deliveries": str(deliveries),
        }
        self.deliveries = Path(deliveries)
        self.log = Path(log)
        self.ready_timeout_s = ready_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self._config_dir: tempfile.TemporaryDirectory[str] | None = None
        self.private_dir = private_dir
        self.finished = False

    def __enter__(self) -> XmppSink:
        # its config holds the sink's password: under the run's private directory when given
        self._config_dir = tempfile.TemporaryDirectory(prefix="xmpp-sink-", dir=self.private_dir)
        config_path = Path(self._config_dir.name) / "sink.json"
        config_path.touch(mode=0o600)  # it holds the password
        config_path.write_text(json.dumps(self.config))
        self.deliveries.touch()
        argv = [
            "ip",
            "netns",
            "exec",
            self.netns,
            sys.executable,
            "-m",
            "testbed.services.xmpp_sink",
            str(config_path),
        ]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log.open("wb")
        env = dict(
            os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), PYTHONUNBUFFERED="1"
        )
        self.process = subprocess.Popen(
            dies_with_parent(argv), stdout=subprocess.PIPE, stderr=self._log_file,
            stdin=subprocess.DEVNULL, env=env,
        )
        try:
            self._wait_for("READY", self.ready_timeout_s)
        except BaseException:
            self._stop()
            raise
        # From here on a thread copies what the sink prints (DONE, ERROR lines) to its log and
        # notes DONE, so nothing it says is lost and the runner need not wait out its allowance.
        self._tee = threading.Thread(target=self._copy_stdout, name="xmpp-sink-stdout",
                                     daemon=True)
        self._tee.start()
        return self

    def _copy_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        try:
            for line in self.process.stdout:
                self._log_file.write(b"sink: " + line)
                self._log_file.flush()
                if line.strip() == b"DONE":
                    self.finished = True
        except (OSError, ValueError):  # the pipe or the log closed at stop
            pass

    def _wait_for(self, word: str, timeout_s: float) -> None:
        """Read stdout lines until `word` (copied to the log); SinkError on ERROR/exit/timeout."""
        import selectors

        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        last = ""
        with selectors.DefaultSelector() as sel:
            sel.register(self.process.stdout, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0:
                if not sel.select(left):
                    continue
                line = self.process.stdout.readline()
                if not line:
                    raise SinkError(
                        f"XMPP sink exited (status {self.process.wait()}) before {word}; "
                        f"log: {self.log}"
                    )
                self._log_file.write(b"sink: " + line)  # as _copy_stdout does after READY
                self._log_file.flush()
                text = line.decode(errors="replace").strip()
                if text.startswith("ERROR"):
                    raise SinkError(f"XMPP sink: {text}; log: {self.log}")
                if text == word:
                    return
                last = text
        said = f"last line: {last!r}" if last else "it printed nothing"
        raise SinkError(f"XMPP sink: no {word} within {timeout_s} s ({said}); log: {self.log}")

    def wait_done(self, timeout_s: float) -> None:
        """iq mode: wait until the sink has sent every readout request (answered or timed out)."""
        deadline = time.monotonic() + timeout_s
        while not self.finished:
            if self.process is None or self.process.poll() is not None:
                if self.finished:
                    break
                raise SinkError(f"XMPP sink exited before DONE; log: {self.log}")
            if time.monotonic() > deadline:
                raise SinkError(f"XMPP sink: no DONE within {timeout_s} s; log: {self.log}")
            time.sleep(0.05)

    def read_deliveries(self) -> list[dict[str, Any]]:
        return read_json_lines(self.deliveries)

    def _stop(self) -> None:
        stop_process(self.process, 5.0)
        tee = getattr(self, "_tee", None)
        if tee is not None:
            tee.join(timeout=2.0)  # the pipe is at EOF once the sink is gone
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if getattr(self, "_log_file", None) is not None:
            self._log_file.close()
        if self._config_dir is not None:
            self._config_dir.cleanup()
            self._config_dir = None

    def __exit__(self, *exc: object) -> None:
        self._stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
