"""xmpp-sensor in n1 -> one emulated 802.15.4 hop -> prosody + the slixmpp sink in the cloud.

Every reading the node reports must arrive at the sink with the same seq, value and node time,
in each mode (message, pubsub, iq), with STARTTLS and with SCRAM-SHA-1.
"""

from __future__ import annotations

import io
import json
import queue
import secrets
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from testbed.config.topology import parse_topology
from testbed.services.prosody import Prosody
from testbed.services.xmpp_sink import NS_SENSORDATA, SinkError, XmppSink, write_deliveries
from tests.topologies import PAIR

SENSOR_MAIN = Path(__file__).resolve().parents[2] / "nodes" / "xmpp-sensor" / "main.py"
DOMAIN = "iot.testbed"


class NodeEvents:
    """The JSON-line events of a node process, read on a thread so waits can time out."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.events: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self._queue.put(json.loads(line))
        self._queue.put(None)

    def wait_for(self, event: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                item = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if item is None:
                break
            self.events.append(item)
            if item["event"] == event:
                return item
            if item["event"] == "error":
                raise AssertionError(f"node error: {item}; events so far: {self.events}")
        raise AssertionError(
            f"no {event!r} from the node within {timeout_s} s; events: {self.events}"
        )

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]



def start_sensor(net: Any, path: Path, settings: dict[str, Any]) -> tuple[Any, NodeEvents]:
    """Write the sensor's CONFIG.json (0600: it holds its password) and start xmpp-sensor in
    n1; the process and its event reader."""
    path.touch(mode=0o600)
    path.write_text(json.dumps(settings))
    process = net.popen("n1", [sys.executable, str(SENSOR_MAIN), str(path)],
                        stdout=subprocess.PIPE, text=True)
    return process, NodeEvents(process)

def run_sensor(
    network: Any,
    tmp_path: Path,
    *,
    mode: str,
    readings: int = 5,
    interval_s: float = 0.5,
    tls: bool = False,
    sasl: str = "PLAIN",
) -> tuple[NodeEvents, list[dict[str, Any]]]:
    """Bring the pair up, run prosody + sink + the sensor; the node's events and the deliveries."""
    passwords = {"n1": secrets.token_urlsafe(12), "sink": secrets.token_urlsafe(12)}
    with network(parse_topology(PAIR, "pair.yaml"), seed=2) as net:
        cloud = net.netns("cloud")
        with (
            Prosody(
                netns=cloud,
                address=net.cloud_address,
                domain=DOMAIN,
                accounts=passwords,
                directory=tmp_path / "prosody",
                tls=tls,
                log_level="debug",  # the stanzas, for the sizes in the report
            ) as server,
            XmppSink(
                netns=cloud,
                server=net.cloud_address,
                domain=DOMAIN,
                password=passwords["sink"],
                mode=mode,
                nodes={"n1": f"n1@{DOMAIN}/sensor"},
                readings=readings,
                interval_s=interval_s,
                tls=tls,
                cafile=server.certificate,
                deliveries=tmp_path / "deliveries.jsonl",
                log=tmp_path / "sink.log",
            ) as sink,
        ):
            settings = (
                    {
                        "name": "n1",
                        "readings": readings,
                        "interval_s": interval_s,
                        "sensors": ["temperature"],
                        "seed": 1,
                        "server": str(net.cloud_address),
                        "port": 5222,
                        "domain": DOMAIN,
                        "user": "n1",
                        "password": passwords["n1"],
                        "resource": "sensor",
                        "mode": mode,
                        "sink": f"sink@{DOMAIN}",
                        "pubsub_service": f"pubsub.{DOMAIN}",
                        "pubsub_node": "sensors/n1",
                        "starttls": tls,
                        "sasl": sasl,
                    }
            )
            process, events = start_sensor(net, tmp_path / "n1.json", settings)
            try:
                events.wait_for("ready", 60)
                if mode == "iq":
                    sink.wait_done(60 + readings * interval_s)
                events.wait_for("done", 60 + readings * interval_s)
                deadline = time.monotonic() + 20
                while len(sink.read_deliveries()) < readings and time.monotonic() < deadline:
                    time.sleep(0.1)
            finally:
                process.terminate()
                process.wait(10)
            deliveries = sink.read_deliveries()
    (tmp_path / "n1.events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events.events))
    assert passwords["n1"] not in json.dumps(events.events)  # never print the password
    assert passwords["sink"] not in (tmp_path / "sink.log").read_text()
    return events, deliveries


def assert_every_reading_arrived(
    events: NodeEvents, deliveries: list[dict[str, Any]], readings: int
) -> None:
    sent = {(e["seq"], e["sensor"]): e for e in events.of("reading")}
    assert sorted(seq for seq, _ in sent) == list(range(1, readings + 1))
    got = {(d["seq"], d["sensor"]): d for d in deliveries}
    assert got.keys() == sent.keys(), (deliveries, events.events)
    for key, d in got.items():
        assert d["node"] == "n1"
        assert d["value"] == sent[key]["value"]
        assert abs(d["t_node"] - sent[key]["t"]) < 0.002  # millisecond timestamp on the wire
        assert d["t_sink"] >= d["t_node"]
    assert len(deliveries) == readings  # no duplicates over TCP


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["message", "pubsub", "iq"])
def test_every_reading_arrives(network: Any, tmp_path: Path, mode: str) -> None:
    events, deliveries = run_sensor(network, tmp_path, mode=mode, readings=5)
    assert_every_reading_arrived(events, deliveries, 5)
    setup = events.of("phase")[0]
    assert setup["name"] == "setup" and setup["end"] > setup["start"] and setup["tls"] is False


@pytest.mark.slow
def test_message_mode_with_starttls(network: Any, tmp_path: Path) -> None:
    events, deliveries = run_sensor(network, tmp_path, mode="message", readings=4, tls=True)
    assert_every_reading_arrived(events, deliveries, 4)
    assert events.of("phase")[0]["tls"] is True


@pytest.mark.slow
def test_scram_sha1_login(network: Any, tmp_path: Path) -> None:
    events, deliveries = run_sensor(
        network, tmp_path, mode="message", readings=3, sasl="SCRAM-SHA-1"
    )
    assert_every_reading_arrived(events, deliveries, 3)


@pytest.mark.slow
def test_sensor_reconnects_when_the_server_restarts(network: Any, tmp_path: Path) -> None:
    """Prosody goes away mid-run and comes back: the node reconnects, logs in again, finishes."""
    passwords = {"n1": secrets.token_urlsafe(12)}
    readings, interval_s = 8, 0.5
    with network(parse_topology(PAIR, "pair.yaml"), seed=2) as net:
        cloud = net.netns("cloud")

        def server() -> Prosody:
            return Prosody(
                netns=cloud,
                address=net.cloud_address,
                domain=DOMAIN,
                accounts=passwords,
                directory=tmp_path / "prosody",
            )

        settings = (
                {
                    "name": "n1",
                    "readings": readings,
                    "interval_s": interval_s,
                    "server": str(net.cloud_address),
                    "port": 5222,
                    "domain": DOMAIN,
                    "user": "n1",
                    "password": passwords["n1"],
                    "mode": "message",
                    "sink": f"sink@{DOMAIN}",
                }
        )
        with server():
            process, events = start_sensor(net, tmp_path / "n1.json", settings)
            try:
                events.wait_for("ready", 60)
                events.wait_for("reading", 30)
            except BaseException:
                process.kill()
                process.wait()
                raise
        try:
            events.wait_for("reconnect", 30)
            with server():
                events.wait_for("ready", 60)
                events.wait_for("done", 60 + readings * interval_s)
        finally:
            process.terminate()
            process.wait(10)
    assert len(events.of("phase")) == 2  # one set-up per session
    assert sorted(e["seq"] for e in events.of("reading")) == list(range(1, readings + 1))
    attempts = [e["attempt"] for e in events.of("reconnect")]
    assert attempts == list(range(1, len(attempts) + 1))  # backoff counts up until it is back


# A second XMPP client (slixmpp) that queries the node directly: XEP-0199 ping, a disco#info get
# the node does not implement, and a sensor-data readout. Prints one JSON line with the answers.
PROBE = r"""
import asyncio, json, sys, xml.etree.ElementTree as ET
import slixmpp
from slixmpp.exceptions import IqError
server, target = sys.argv[1], sys.argv[2]
password = sys.stdin.readline().strip()  # never on argv, where `ps` shows it
xmpp = slixmpp.ClientXMPP("probe@iot.testbed/probe", password)
xmpp.register_plugin("xep_0030"); xmpp.register_plugin("xep_0199")
xmpp.enable_direct_tls = xmpp.enable_starttls = False
xmpp.enable_plaintext = True
xmpp.plugin["feature_mechanisms"].unencrypted_plain = True
answers = {}
done = asyncio.Event()
async def start(_):
    answers["ping_s"] = await xmpp.plugin["xep_0199"].ping(target, timeout=30)
    try:
        await xmpp.plugin["xep_0030"].get_info(jid=target, timeout=30)
    except IqError as exc:
        answers["disco"] = [exc.etype, exc.condition]
    iq = xmpp.make_iq_get(ito=target)
    iq.append(ET.Element("{urn:xmpp:iot:sensordata}req", {"seqnr": "1", "momentary": "true"}))
    result = await iq.send(timeout=30)
    from testbed.services.payload import find_element, parse_element
    answers["payload"] = [r.seq for r in parse_element(find_element(result.xml))]
    print(json.dumps(answers), flush=True)
    done.set()
xmpp.add_event_handler("session_start", start)
xmpp.connect(server, 5222)
asyncio.get_event_loop().run_until_complete(asyncio.wait_for(done.wait(), 60))
"""


@pytest.mark.slow
def test_node_answers_ping_unknown_iq_and_readout(network: Any, tmp_path: Path) -> None:
    """XEP-0199 ping -> result; an IQ it does not serve -> service-unavailable (RFC 6120 §8.4)."""
    passwords = {"n1": secrets.token_urlsafe(12), "probe": secrets.token_urlsafe(12)}
    with network(parse_topology(PAIR, "pair.yaml"), seed=2) as net:
        cloud = net.netns("cloud")
        settings = (
                {
                    "name": "n1",
                    "readings": 1,
                    "server": str(net.cloud_address),
                    "domain": DOMAIN,
                    "user": "n1",
                    "password": passwords["n1"],
                    "mode": "iq",
                    "sink": f"probe@{DOMAIN}",
                }
        )
        with Prosody(
            netns=cloud,
            address=net.cloud_address,
            accounts=passwords,
            directory=tmp_path / "prosody",
        ):
            process, events = start_sensor(net, tmp_path / "n1.json", settings)
            try:
                events.wait_for("ready", 60)
                probe = net.exec(
                    "cloud",
                    [
                        sys.executable,
                        "-c",
                        PROBE,
                        str(net.cloud_address),
                        f"n1@{DOMAIN}/sensor",
                    ],
                    input=passwords["probe"] + "\n",
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                events.wait_for("done", 30)
            finally:
                process.terminate()
                process.wait(10)
    assert probe.returncode == 0, probe.stderr[-2000:]
    answers = json.loads(probe.stdout.strip().splitlines()[-1])
    assert answers["ping_s"] > 0
    assert answers["disco"] == ["cancel", "service-unavailable"]
    assert answers["payload"] == [1]  # the reading it produced for this readout
    assert [e["seq"] for e in events.of("reading")] == [1]


# the sink's start-up handshake, without a network -------------------------------------------


def printing(tmp_path: Path, script: str, *, timeout_s: float = 0.5) -> XmppSink:
    """An XmppSink whose process is `python -c script`, not the sink (no namespace needed)."""
    sink = XmppSink(netns="none", server="::1", password="pw", mode="message", nodes={},
                    readings=1, interval_s=1.0, deliveries=tmp_path / "d.jsonl",
                    log=tmp_path / "sink.log", ready_timeout_s=timeout_s)
    sink._log_file = sink.log.open("wb")
    sink.process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    return sink


def test_what_the_sink_prints_before_ready_is_in_its_log(tmp_path: Path) -> None:
    sink = printing(tmp_path, "print('connecting', flush=True); print('READY', flush=True)")
    try:
        sink._wait_for("READY", 10.0)
    finally:
        sink._stop()
    assert sink.log.read_bytes() == b"sink: connecting\nsink: READY\n"


def test_no_ready_in_time_names_the_last_line_and_the_log(tmp_path: Path) -> None:
    sink = printing(tmp_path, "import time; print('connecting', flush=True); time.sleep(30)")
    try:
        with pytest.raises(SinkError, match=r"no READY within 0\.5 s \(last line: 'connecting'\)"
                                            r"; log: .*sink\.log"):
            sink._wait_for("READY", 0.5)
    finally:
        sink._stop()
    assert sink.process is not None and sink.process.returncode is not None  # not left running


def _fields(seqnr: str, value: str) -> ET.Element:
    ns = f"{{{NS_SENSORDATA}}}"
    fields = ET.Element(f"{ns}fields", {"seqnr": seqnr})
    node = ET.SubElement(fields, f"{ns}node", {"nodeId": "s1"})
    stamp = ET.SubElement(node, f"{ns}timestamp", {"value": "2026-12-04T07:00:00Z"})
    ET.SubElement(stamp, f"{ns}numeric", {"name": "temperature", "value": value, "unit": "C"})
    return fields


def test_malformed_sensor_data_is_one_warning_and_no_record(
        caplog: pytest.LogCaptureFixture) -> None:
    out = io.StringIO()
    assert write_deliveries(out, _fields("3", "21.5"), 1.0, sender="s1") == 1
    assert json.loads(out.getvalue())["seq"] == 3
    for seqnr, value in (("three", "21.5"), ("4", "warm")):
        assert write_deliveries(out, _fields(seqnr, value), 2.0, sender="s1") == 0
    assert out.getvalue().count("\n") == 1  # the good stanza's record only
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["s1", "s1"]
    assert all("malformed sensor data, not recorded" in r.getMessage() for r in caplog.records)
