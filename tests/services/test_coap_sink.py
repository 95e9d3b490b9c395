"""coap-sensor in n1 -> one emulated 802.15.4 hop -> libcoap's coap-client and the CoAP sink.

The firmware's answers are checked by an independent client (libcoap `coap-client-notls`:
link format, a GET, 5 s of Observe), then the aiocoap sink runs in each mode and must deliver
every reading the node reports: seq 1..N, same value and node time, t_node <= t_sink.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from testbed.config.topology import parse_topology
from testbed.services.coap_sink import CoapSink, CoapSinkError
from testbed.jsonlines import read_json_lines
from tests.topologies import PAIR

SENSOR_MAIN = Path(__file__).resolve().parents[2] / "nodes" / "coap-sensor" / "main.py"
TEXT = re.compile(rb"seq=(\d+) t=([\d.]+) v=([\d.]+)")


def test_a_sink_that_cannot_start_names_its_log(tmp_path):
    sink = CoapSink(netns="tb-000000-absent", nodes={"n1": "fd00::2"}, mode="get",
                    readings=1, interval_s=1.0, deliveries=tmp_path / "d.jsonl",
                    log=tmp_path / "sink.log")
    expected = r"no 'READY' within .* \(exited\).*full log: .*sink\.log"
    with pytest.raises(CoapSinkError, match=expected), sink:
        pass


# --- over the emulated air ------------------------------------------------------------------


def start_node(net: Any, directory: Path, **config: Any) -> tuple[subprocess.Popen[bytes], Path]:
    config = {"name": "n1", "readings": 10, "interval_s": 1.0, "sensors": ["temperature"],
              "seed": 1, "port": 5683, "format": "text", "observe": None, "max_age": 60,
              **config}
    path = directory / "node.json"
    path.write_text(json.dumps(config))
    out = directory / "node.out"
    with open(out, "wb") as f:
        process = net.popen("n1", [sys.executable, str(SENSOR_MAIN), str(path)], stdout=f,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while b'"ready"' not in out.read_bytes():
        assert process.poll() is None and time.monotonic() < deadline, out.read_text()
        time.sleep(0.05)
    return process, out


def node_events(out: Path, kind: str) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]
    return [e for e in events if e["event"] == kind]


def stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait()


def coap_client(net: Any, *args: str, timeout: float = 30) -> bytes:
    """libcoap's client inside the border router's namespace: every request crosses the air."""
    done = net.exec("br", ["coap-client-notls", "-B", "10", *args], capture_output=True,
                    timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_libcoap_coap_client_gets_correct_answers(network, tmp_path):
    with network(parse_topology(PAIR, "pair.yaml")) as net:
        node, out = start_node(net, tmp_path, observe="con", readings=30, interval_s=1.0)
        try:
            base = f"coap://[{net.address('n1')}]"
            links = coap_client(net, "-m", "get", base + "/.well-known/core")
            assert links.strip() == b'</sensors/temperature>;rt="temperature";ct=0;obs'

            # an observable sensor answers a GET with its current state: seq 0 before the
            # first notification, and that answer is not a reading
            answer = coap_client(net, "-m", "get", base + "/sensors/temperature")
            [(seq, t, value)] = TEXT.findall(answer)
            assert int(seq) == 0 and node_events(out, "reading") == []

            observed = coap_client(net, "-s", "5", base + "/sensors/temperature")
            seqs = [int(s) for s, _, _ in TEXT.findall(observed)]
            assert len(seqs) >= 5, observed  # the registration answer + a notification a second
            assert seqs == list(range(len(seqs)))
            sent = {e["seq"]: e["value"] for e in node_events(out, "reading")}
            assert all(sent[int(s)] == float(v) for s, _, v in TEXT.findall(observed) if int(s))
            first = next(e for e in node_events(out, "reading") if e["seq"] == 1)
            [(_, t1, _)] = [m for m in TEXT.findall(observed) if int(m[0]) == 1]
            assert float(t1) == pytest.approx(first["t"], abs=0.001)
        finally:
            stop(node)


@pytest.mark.slow
@pytest.mark.parametrize("mode, observe, fmt", [
    ("get", None, "text"),
    ("observe-con", "con", "senml-cbor"),
    ("observe-non", "non", "text"),
])
def test_coap_sink_gets_every_reading(network, tmp_path, mode, observe, fmt):
    readings, interval = 6, 0.5
    with network(parse_topology(PAIR, "pair.yaml")) as net:
        node, out = start_node(net, tmp_path, observe=observe, format=fmt, readings=readings,
                               interval_s=interval)
        try:
            sink = CoapSink(netns=net.netns("cloud"), nodes={"n1": net.address("n1")}, mode=mode,
                            readings=readings, interval_s=interval,
                            deliveries=tmp_path / "deliveries.jsonl", log=tmp_path / "sink.log")
            with sink:
                assert sink.wait(timeout=readings * interval + 30) == 0
        finally:
            stop(node)
    deliveries = read_json_lines(tmp_path / "deliveries.jsonl")
    sent = node_events(out, "reading")
    log = (tmp_path / "sink.log").read_text()
    assert [d["seq"] for d in deliveries] == list(range(1, readings + 1)), log
    assert [e["seq"] for e in sent] == list(range(1, readings + 1))
    for delivery, reading in zip(deliveries, sent):
        assert delivery["node"] == "n1" and delivery["sensor"] == "temperature"
        assert delivery["value"] == reading["value"]
        assert delivery["t_node"] == pytest.approx(reading["t"], abs=0.001)
        assert delivery["t_node"] <= delivery["t_sink"]
    if observe:
        assert len(node_events(out, "done")) == 1
