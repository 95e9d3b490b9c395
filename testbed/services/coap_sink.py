"""The CoAP sink: the cloud-side client that polls or observes the coap-sensor nodes (aiocoap).

`python -m testbed.services.coap_sink CONFIG.json` runs it; `with CoapSink(...) as sink:`
starts that process inside a namespace (argv list, no shell), waits for its "READY" line and
stops it on exit (SIGTERM, then SIGKILL), keeping its log.

Modes (docs/CONTRACTS.md "Services"):
  get           a CON GET of /sensors/<sensor> on each node, `readings` times, each after the
                previous answer and at most one per interval_s (as the XMPP sink's readouts)
  observe-con   one Observe registration (RFC 7641 §3.1) per node; the node sends CON
  observe-non   notifications (or NON: the node's config decides, the sink only counts)
Every reading that arrives is one line of the deliveries JSONL, duplicates included (the
reader flags them): {"node", "seq", "sensor", "value", "t_node", "t_sink"}. The sink exits
on its own once each node gave `readings` readings or the deadline passed.

Not here: the node firmware (nodes/coap-sensor), the scenario (experiment/).
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import time
from enum import StrEnum
from ipaddress import IPv6Address, ip_address
from pathlib import Path
from typing import Any, TextIO

from testbed.errors import TestbedError
from testbed.backends.processes import dies_with_parent, stop_process
from testbed.services.payload import FORMAT_OF_CONTENT, Reading, parse

COAP_PORT = 5683  # RFC 7252 §6.1
READY_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
GRACE_S = 30.0  # after the last expected reading, how long a sink keeps waiting
# Observe (issue 06): re-register after this many reading intervals without a notification
# (a few lost NON notifications do not trigger it; an observer the node dropped does), with a
# full-jitter backoff between attempts
SILENT_INTERVALS = 5
REREGISTER_BASE_S, REREGISTER_CAP_S = 1.0, 15.0


class CoapSinkError(TestbedError):
    """The CoAP sink would not start, did not say READY in time, or got a bad config."""


class SinkMode(StrEnum):
    GET = "get"
    OBSERVE_CON = "observe-con"
    OBSERVE_NON = "observe-non"


def parse_reading(payload: bytes, content_format: int | None, sensor: str) -> Reading:
    """The reading of `sensor` in a response's payload (any format of services/payload.py;
    no Content-Format: text/plain, RFC 7252 §5.10.3)."""
    fmt = FORMAT_OF_CONTENT.get(content_format or 0)
    if fmt is None:
        raise ValueError(f"unknown Content-Format {content_format}")
    readings = [r for r in parse(fmt, payload, sensor=sensor) if r.sensor == sensor]
    if not readings:
        raise ValueError(f"no {sensor} reading in the payload")
    return readings[0]


# --- the sink process ---------------------------------------------------------------------


class Deliveries:
    """The deliveries JSONL, one line per reading, flushed as it arrives."""

    def __init__(self, out: TextIO, sensor: str, log: TextIO) -> None:
        self.out, self.sensor, self.log = out, sensor, log
        self.count: dict[str, int] = {}  # node -> distinct readings (seqs) so far
        self.seqs: dict[str, set[int]] = {}

    def arrived(self, node: str, response: Any, t_request: float | None = None) -> None:
        t_sink = time.time()
        try:
            reading = parse_reading(response.payload, response.opt.content_format, self.sensor)
        except ValueError as error:
            print(f"{node}: {response.code} unparsable: {error}", file=self.log, flush=True)
            return
        if reading.seq == 0:  # an Observe registration's answer: the state before any reading
            print(f"{node}: current state (seq 0), not a reading", file=self.log, flush=True)
            return
        record = {"node": node, "seq": reading.seq, "sensor": self.sensor,
                  "value": reading.value, "t_node": reading.t, "t_sink": t_sink}
        if reading.node is not None and reading.node != node:  # the payload names another
            record["claimed_node"] = reading.node
        if t_request is not None:  # GET mode: the response time includes any queueing
            record["t_request"] = t_request
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()
        self.seqs.setdefault(node, set()).add(reading.seq)
        self.count[node] = len(self.seqs[node])


async def poll(ctx: Any, node: str, uri: str, config: dict[str, Any], sink: Deliveries) -> None:
    """`readings` CON GETs, each after the previous one's answer (or failure) and at most one
    per interval_s: the XMPP sink's readouts wait for their answer the same way, so neither
    protocol pipelines requests the other cannot."""
    from aiocoap import GET, Message

    async def one(k: int) -> None:
        t_request = time.time()
        try:
            response = await ctx.request(Message(code=GET, uri=uri)).response
        except Exception as error:  # noqa: BLE001 - aiocoap raises many kinds; log and go on
            print(f"{node}: GET {k} failed: {error!r}", file=sink.log, flush=True)
            return
        if response.code.is_successful():
            sink.arrived(node, response, t_request)
        else:
            print(f"{node}: GET {k}: {response.code}", file=sink.log, flush=True)

    for k in range(config["readings"]):
        started = time.monotonic()
        await one(k)
        await asyncio.sleep(max(0.0, config["interval_s"] - (time.monotonic() - started)))


async def observe(ctx: Any, node: str, uri: str, config: dict[str, Any], sink: Deliveries) -> None:
    """RFC 7641 §3.1: register, then count every notification until `readings` arrived.

    When no notification came for SILENT_INTERVALS x interval_s (the node dropped us after
    unacknowledged CON notifications, or NON ones are being lost), or the registration itself
    failed (the GET's RFC 7252 retransmissions ran out), register again with a new token
    (a new GET with Observe: 0) after a backoff (full jitter, base 1 s, x2, cap 15 s, seeded
    by the node's name, reset by a notification). The registration's answer is the node's
    current state, never a reading (nodes/coap-sensor: only notifications carry readings),
    unless a notification arrived first and aiocoap took it for the answer."""
    from aiocoap import GET, Message, Type

    silence = SILENT_INTERVALS * float(config["interval_s"])
    rng = random.Random(f"reregister-{node}")
    failures = registrations = 0
    while sink.count.get(node, 0) < config["readings"]:
        if failures:
            ceiling = min(REREGISTER_CAP_S, REREGISTER_BASE_S * 2 ** (failures - 1))
            await asyncio.sleep(rng.uniform(0.0, ceiling))
        registrations += 1
        if registrations > 1:
            print(f"{node}: re-registering (registration {registrations})", file=sink.log,
                  flush=True)
        request = ctx.request(Message(code=GET, uri=uri, observe=0))
        try:
            response = await request.response
        except Exception as error:  # noqa: BLE001 - aiocoap raises many kinds; log, retry
            print(f"{node}: registration failed: {error!r}", file=sink.log, flush=True)
            failures += 1
            continue
        if not response.code.is_successful():
            print(f"{node}: registration answered {response.code}", file=sink.log, flush=True)
            request.observation.cancel()
            failures += 1
            continue
        if response.mtype != Type.ACK:  # a notification that came before the piggybacked
            sink.arrived(node, response)  # answer stands for it (RFC 7641 §3.4): a reading
        # aiocoap's iterator is a one-slot queue ("observe is lossy"): a burst of notifications
        # after a congested stretch can overwrite one (1 of 115 once on the 36-node grid).
        # Callbacks (register_callback) would see each, but with them aiocoap answered later
        # notifications with RST in 2 of 2 grid runs, so the iterator it recommends stays.
        updates = request.observation.__aiter__()
        try:
            while sink.count.get(node, 0) < config["readings"]:
                notification = await asyncio.wait_for(updates.__anext__(), timeout=silence)
                sink.arrived(node, notification)
                failures = 0
        except asyncio.TimeoutError:
            print(f"{node}: no notification for {silence:g} s", file=sink.log, flush=True)
            failures += 1
        except Exception as error:  # noqa: BLE001 - the observation ended (RST, error)
            print(f"{node}: observation ended: {error!r}", file=sink.log, flush=True)
            failures += 1
        finally:
            request.observation.cancel()


async def serve(config: dict[str, Any], log: TextIO) -> None:
    from aiocoap import Context

    mode = SinkMode(config["mode"])
    ctx = await Context.create_client_context()
    port = config.get("port", COAP_PORT)
    offsets = config.get("start_offsets", {})
    deadline = (config["readings"] * config["interval_s"] + config.get("grace_s", GRACE_S)
                + max(offsets.values(), default=0.0))
    with open(config["deliveries"], "a", encoding="utf-8") as out:
        sink = Deliveries(out, config["sensor"], log)
        print("READY", flush=True)
        job = poll if mode is SinkMode.GET else observe
        path = f"/sensors/{config['sensor']}"
        async def after_offset(node: str, address: str) -> None:
            await asyncio.sleep(float(offsets.get(node, 0.0)))
            await job(ctx, node, f"coap://[{address}]:{port}{path}", config, sink)

        tasks = [asyncio.create_task(after_offset(node, address))
                 for node, address in config["nodes"].items()]
        done, pending = await asyncio.wait(tasks, timeout=deadline)
        for task in done:
            if task.exception() is not None:
                print(f"sink task failed: {task.exception()!r}", file=log, flush=True)
        for task in pending:
            task.cancel()
        print(f"delivered {json.dumps(sink.count)}", file=log, flush=True)
    await ctx.shutdown()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m testbed.services.coap_sink CONFIG.json", file=sys.stderr)
        return 2
    config = json.loads(Path(argv[1]).read_text())
    loop = asyncio.new_event_loop()
    task = loop.create_task(serve(config, sys.stderr))
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    finally:
        loop.close()
    return 0


# --- the service --------------------------------------------------------------------------


class CoapSink:
    """`with CoapSink(netns=..., nodes={"n1": addr}, mode="get", ...) as sink:` runs the sink.

    Constructing does no I/O; __enter__ writes the config beside the log, starts the process in
    `netns` and waits for READY; __exit__ stops it (SIGTERM, then SIGKILL). `wait()` waits for
    the sink to finish on its own (all readings in, or its deadline passed).
    """

    def __init__(self, *, netns: str, nodes: dict[str, IPv6Address | str], mode: str,
                 sensor: str = "temperature", readings: int, interval_s: float,
                 deliveries: Path, log: Path, port: int = COAP_PORT,
                 grace_s: float = GRACE_S, start_offsets: dict[str, float] | None = None) -> None:
        self.netns = netns
        self.nodes = {name: ip_address(str(address)) for name, address in nodes.items()}
        self.mode = SinkMode(mode)
        self.sensor, self.readings, self.interval_s = sensor, readings, interval_s
        self.deliveries, self.log = Path(deliveries), Path(log)
        self.port, self.grace_s = port, grace_s
        self.start_offsets = dict(start_offsets or {})  # node -> seconds before its first request
        self.config_path = self.log.with_name(self.log.stem + ".config.json")
        self.process: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        return ["ip", "netns", "exec", self.netns,
                sys.executable, "-m", "testbed.services.coap_sink", str(self.config_path)]

    def __enter__(self) -> CoapSink:
        config = {"nodes": {n: str(a) for n, a in self.nodes.items()}, "mode": str(self.mode),
                  "sensor": self.sensor, "readings": self.readings,
                  "interval_s": self.interval_s, "deliveries": str(self.deliveries.resolve()),
                  "port": self.port, "grace_s": self.grace_s,
                  "start_offsets": self.start_offsets}
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(config, indent=1))
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(dies_with_parent(self.argv()), stdout=log,
                                            stderr=subprocess.STDOUT,
                                            cwd=Path(__file__).resolve().parents[2])
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if b"READY" in self.log.read_bytes():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.log.read_bytes()[-300:]
        state = "exited" if self.process.poll() is not None else "running"
        raise CoapSinkError(f"coap sink in {self.netns}: no 'READY' within {READY_TIMEOUT_S} s "
                            f"({state}); last bytes: {tail!r}; full log: {self.log}")

    def wait(self, timeout: float | None = None) -> int:
        """Wait until the sink finished on its own (every reading in, or its deadline); its
        exit status."""
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        stop_process(self.process, STOP_TIMEOUT_S)

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
