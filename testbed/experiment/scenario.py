"""The comparison scenario: every protocol variant, one after the other, on a fresh network.

`run_comparison(topology, variants=..., readings=..., interval_s=..., seed=..., out=...)`
creates one run directory and, for each variant: brings the topology up with the variant's
own directory (<run>/<variant>/: capture.pcap, radio.csv, medium.json, logs/), starts the
cloud services (Prosody then the XMPP sink, or the CoAP sink), starts the node app on every
sensor, waits until every reading reached the sink (or a timeout: a finding, not a crash),
stops nodes and services, tears the network down (the capture is complete then) and measures:
readings sent (node events) and delivered (unique (node, seq) at the sink), duplicates,
latency, the XMPP set-up phase, frames and bytes on the air. results.json is rewritten after
each variant, so an interrupted run keeps what it measured.

SIGINT or SIGTERM mid-variant: nodes, sinks, prosody and the network are torn down, the
finished variants are in results.json, and `KeyboardInterrupt` reaches the caller (the CLI
exits 130). A variant that fails (a service that does not start...) is recorded with its error
and the next one runs.

Not here: the services (services/), the firmware (nodes/), the table (cli.py).
"""

from __future__ import annotations

import contextlib
import random
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from ipaddress import IPv6Network
from pathlib import Path
from typing import Any, Protocol as TypingProtocol

from testbed.backends import netns as ns
from testbed.backends.emulated import CLOUD, TAP, EmulatedNetwork
from testbed.analysis.account import analyze_capture
from testbed.config.topology import Role, Topology
from testbed.backends.lab import LabPan, LabSetup, check_lab_plays
from testbed.config.lab import Lab
from testbed.contiki.build import board_firmware, medium_firmware
from testbed.errors import BadInput, TestbedError
from testbed.energy.measured import measured_section
from testbed.experiment.discovery import measure_discovery
from testbed.experiment.nodes import Event, NodeApp, RunningNode
from testbed.experiment.results import (
    Air, Percentiles, Phases, Readings, Results, Span, VariantResult, percentile, write_results,
)
from testbed.experiment.results import NodeFigures  # issue 04 energy
from testbed.experiment.run import Run
from testbed.experiment.variants import Protocol, Variant
from testbed.services.payload import DEFAULT_FORMAT
from testbed.experiment.truth import mismatches
from testbed.services.deliveries import Delivery, read_deliveries  # noqa: F401 (tests import them here)

DOMAIN = "iot.testbed"
PAN_DOMAIN = "pan.testbed"  # the discovery proxy's unicast domain for the PAN's .local
PROXY_POLL_S = 2.0  # how often a serverless sensor asks the discovery proxy
SENSOR = "temperature"
#: xmpp-serverless: when prosody was started (epoch seconds), in the variant's directory
SERVER_STARTED = "server-started"
#: ... and how long, once every reading is in, it waits for every sensor to be on the server:
#: a proxy poll (2 s +25 %), a server's mDNS announcement, a backoff, then its log-in
MOVE_ALLOWANCE_S = 20.0
SETUP_ALLOWANCE_S = {Protocol.COAP: 10.0, Protocol.XMPP: 20.0}
GRACE_S = 15.0  # beyond readings x interval: retransmissions (RFC 7252 §4.2 backoff)
# issue 06: while nodes still make progress (a new delivery, a node event such as a reconnect
# or a queued reading), the wait goes on until STALL_S pass without any, up to EXTRA_S more:
# a sensor that reconnects after a server timeout (30 s) and a backoff (<= 15 s) is not lost
STALL_S = 60.0
EXTRA_S = 300.0
NODE_READY_TIMEOUT_S = 10.0
#: A Contiki node is ready once RPL made it reachable: DIS after 5 s, a DIO within the
#: trickle's Imin (4 s), a DAO and its ACK (Contiki-NG 5.0 RPL-lite defaults).
CONTIKI_READY_TIMEOUT_S = 60.0
POLL_S = 0.1


class Observer(TypingProtocol):
    """What the runner reports while it works (the CLI shows it; tests may ignore it)."""

    def started(self, run_dir: Path) -> None: ...
    def phase(self, variant: Variant, what: str) -> None: ...
    def delivered(self, variant: Variant, delivered: int, expected: int) -> None: ...
    def finished(self, variant: Variant, result: VariantResult) -> None: ...


class _Silent:
    def started(self, run_dir: Path) -> None:
        pass

    def phase(self, variant: Variant, what: str) -> None:
        pass

    def delivered(self, variant: Variant, delivered: int, expected: int) -> None:
        pass

    def finished(self, variant: Variant, result: VariantResult) -> None:
        pass


# --- measuring -----------------------------------------------------------------------------


def measure_readings(events: dict[str, list[Event]], deliveries: Sequence[Delivery],
                     *, expected: int | None = None, seed: int | None = None) -> Readings:
    """Expected (asked for), sent (node events), delivered (unique (node, seq) at the sink
    that a node reports having sent), duplicates, unexpected, lost, latency, response time,
    and with the run's `seed` the delivered readings that are not what the node made
    (experiment/truth.py: the value, the node the payload names).

    `lost` counts against `expected` when given: in on-demand variants a request lost on the
    way never makes a node send, and must still count as a reading that did not arrive."""
    sent = {(node, int(e["seq"])) for node, evs in events.items() for e in evs
            if e.kind == "reading" and "seq" in e.data}
    first: dict[tuple[str, int], Delivery] = {}
    for d in deliveries:
        if (d.node, d.seq) in sent:  # ground truth: only what a node says it sent counts
            first.setdefault((d.node, d.seq), d)
    latencies = [(d.t_sink - d.t_node) * 1000.0 for d in first.values()]
    responses = [(d.t_sink - d.t_request) * 1000.0 for d in first.values()
                 if d.t_request is not None]
    target = max(expected or 0, len(sent))
    wrong = mismatches(first.values(), seed) if seed is not None else []
    return Readings(
        expected=target, sent=len(sent), delivered=len(first), mismatched=len(wrong),
        duplicates=sum(1 for d in deliveries if (d.node, d.seq) in sent) - len(first),
        lost=target - len(first),
        unexpected=sum(1 for d in deliveries if (d.node, d.seq) not in sent),
        latency_ms=Percentiles(p50=_round(percentile(latencies, 50)),
                               p95=_round(percentile(latencies, 95))),
        response_ms=(Percentiles(p50=_round(percentile(responses, 50)),
                                 p95=_round(percentile(responses, 95))) if responses else None),
    )


@dataclass(frozen=True, slots=True)
class Restarts:
    """What a node's event log says about its trouble (issue 06): how often it started over,
    readings it queued while it had no session, readings its full outbox dropped."""

    reconnects: int = 0
    queued: int = 0
    dropped: int = 0


def measure_restarts(events: Mapping[str, Sequence[Event]]) -> dict[str, Restarts]:
    """Per node: XMPP "reconnect" events (a failed first connect counts too); for CoAP observe,
    the node's "observe" (registration) events after the first, i.e. the observer's
    re-registrations; unique seqs of "queued" and "dropped" events."""
    counts = {}
    for node, evs in events.items():
        kinds = [e.kind for e in evs]
        counts[node] = Restarts(
            reconnects=kinds.count("reconnect") + max(0, kinds.count("observe") - 1),
            queued=len({e.get("seq") for e in evs if e.kind == "queued"}),
            dropped=len({e.get("seq") for e in evs if e.kind == "dropped"}),
        )
    return counts


def measure_setup(events: dict[str, list[Event]]) -> Phases:
    """The XMPP "setup" phase (TCP connect .. presence sent) of every node, in ms."""
    spans = [(float(e["end"]) - float(e["start"])) * 1000.0 for evs in events.values()
             for e in evs if e.kind == "phase" and e.get("name") == "setup"
             and "start" in e.data and "end" in e.data]
    return Phases(setup_ms=Span(p50=_round(percentile(spans, 50)),
                                max=_round(max(spans)) if spans else None))


def measure_air(capture: Path, prefix: IPv6Network | None = None,
                timeline: Mapping[int, list[tuple[float, int]]] | None = None) -> Air:
    """Every captured frame (data and ACK), the sum of PSDU lengths (tshark's frame.len), and
    every byte attributed by testbed.analysis (layer, purpose, reading / set-up / overhead);
    `timeline` (readings_timeline) lets it attribute TLS-encrypted readings by time."""
    report = analyze_capture(capture, **({"prefix": prefix} if prefix is not None else {}),
                             timeline=timeline)
    return Air.from_json(report.to_json())


def readings_timeline(events: Mapping[str, Sequence[Event]], topology: Topology
                      ) -> dict[int, list[tuple[float, int]]]:
    """Short address -> sorted (t, seq) of each sensor's `reading` events (node clock = the
    capture's clock)."""
    return {topology.short_address(name): sorted({
        (float(e["t"]), e["seq"]) for e in node_events if e.kind == "reading"
        and isinstance(e.get("t"), (int, float)) and isinstance(e.get("seq"), int)})
        for name, node_events in events.items() if name in topology.nodes}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# --- one variant ---------------------------------------------------------------------------


@dataclass(slots=True)
class _VariantRun:
    variant: Variant
    directory: Path
    sensors: tuple[str, ...]
    payload: str = DEFAULT_FORMAT  # the readings' application format (services/payload.py)
    nodes: dict[str, RunningNode] = field(default_factory=dict)
    timed_out: bool = False

    @property
    def deliveries(self) -> Path:
        return self.directory / "deliveries.jsonl"

    @property
    def logs(self) -> Path:
        return self.directory / "logs"

    def events(self) -> dict[str, list[Event]]:
        return {name: running.events() for name, running in self.nodes.items()}


def sensors_of(topology: Topology) -> tuple[str, ...]:
    return tuple(n for n, node in topology.nodes.items() if node.role is Role.SENSOR)


def start_offsets(sensors: Sequence[str], *, interval_s: float, seed: int) -> dict[str, float]:
    """Each sensor's seeded start offset in [0, interval_s), the same in every variant.

    With explicit links, sensors that share a parent but no link are hidden terminals; all
    starting at once would make every variant's first exchange a collision contest, and
    measure that rather than the protocol. XMPP nodes wait it before connecting, the CoAP
    sink before its first request to the node."""
    return {name: round(random.Random(f"start-{seed}-{name}").uniform(0.0, interval_s), 3)
            for name in sensors}


def _node_config(variant: Variant, name: str, *, readings: int, interval_s: float, seed: int,
                 net: EmulatedNetwork, password: str | None,
                 payload: str = DEFAULT_FORMAT) -> dict[str, Any]:
    config: dict[str, Any] = {"name": name, "readings": readings, "interval_s": interval_s,
                              "sensors": [SENSOR], "seed": seed, "format": payload,
                              **variant.node_config()}
    if variant.protocol is Protocol.XMPP:
        config["start_delay_s"] = start_offsets([name], interval_s=interval_s, seed=seed)[name]
    if variant.protocol is Protocol.XMPP:
        config.update(server=str(net.cloud_address), domain=DOMAIN, user=name,
                      password=password, sink=f"{variant.spec.sink_user}@{DOMAIN}",
                      pubsub_service=f"pubsub.{DOMAIN}", pubsub_node=f"sensors/{name}")
    if variant.protocol is Protocol.XMPP and not net.is_contiki:
        # issue 09: the server is found by mDNS, or by the border router's discovery proxy;
        # the Contiki-NG xmpp-sensor has no mDNS and keeps the configured address
        br = net.topology.border_router
        config.update(discovery="mdns", collector=f"{variant.spec.sink_user}@{br}", mdns={
            "interface": TAP, "proxy": {"address": str(net.address(br)), "domain": PAN_DOMAIN,
                                        "poll_s": PROXY_POLL_S}})
    return config


def _start_nodes(vr: _VariantRun, app: NodeApp, net: EmulatedNetwork,
                 stack: contextlib.ExitStack, configs: dict[str, dict[str, Any]]) -> None:
    for name in vr.sensors:
        running = app.start(net, name, configs[name], vr.logs, private_root=net.run.private_dir)
        stack.callback(running.stop)
        vr.nodes[name] = running


def _wait_nodes_ready(vr: _VariantRun, timeout_s: float) -> None:
    """CoAP: every server bound before the sink asks it."""
    deadline = time.monotonic() + timeout_s
    waiting = set(vr.sensors)
    while waiting and time.monotonic() < deadline:
        for name in list(waiting):
            running = vr.nodes[name]
            if any(e.kind == "ready" for e in running.events()):
                waiting.discard(name)
            elif not running.alive():
                raise TestbedError(running.failure() or f"{name}: exited before ready")
        time.sleep(POLL_S)
    if waiting:
        raise TestbedError(
            f"nodes {sorted(waiting)}: no 'ready' event within {timeout_s} s; "
            f"logs: {vr.logs}/<node>.jsonl and .err"
        )


def _wait_delivered(vr: _VariantRun, *, readings: int, interval_s: float, sink: Any,
                    observer: Observer, lost: Callable[[], list[str]] = list) -> None:
    """Until the sink has every sensor's `readings`; or, for NON notifications, all nodes are
    done and a grace period passed; or the sink exited; or the time allowance ran out (then
    `timed_out`)."""
    allowance = SETUP_ALLOWANCE_S[vr.variant.protocol] + readings * interval_s + GRACE_S
    started = time.monotonic()
    deadline = started + allowance
    grace = max(2.0, 2 * interval_s)
    all_done_at: float | None = None
    expected = {(n, s) for n in vr.sensors for s in range(1, readings + 1)}  # seqs count from 1
    progress = (-1, -1)
    while True:
        got = {(d.node, d.seq) for d in read_deliveries(vr.deliveries)}
        observer.delivered(vr.variant, len(expected & got), len(expected))
        if expected <= got:  # every sensor's every reading, not just as many deliveries
            return
        now = time.monotonic()
        events = vr.events()
        seen = (len(expected & got), sum(len(evs) for evs in events.values()))
        if seen != progress:  # still moving: STALL_S more, within EXTRA_S of the allowance
            progress = seen
            deadline = max(deadline, min(now + STALL_S, started + allowance + EXTRA_S))
        if not vr.variant.reliable and all(
            any(e.kind == "done" for e in evs) for evs in events.values()
        ):  # NON: what is not in by now was lost (CON and XMPP keep retrying: wait for them)
            all_done_at = all_done_at or now
            if now - all_done_at > grace:
                return
        process = getattr(sink, "process", None)
        if process is not None and process.poll() is not None:
            return  # the sink finished (a poller that asked all its readings) or died
        if lost():
            return  # a lab board went away (unplugged): nothing more comes from it
        if getattr(sink, "finished", False):  # an iq poller has asked every reading: what
            all_done_at = all_done_at or now   # is not in after a grace period never comes
            if now - all_done_at > grace:
                return
        if now > deadline:
            vr.timed_out = True
            return
        time.sleep(POLL_S)


def run_variant(variant: Variant, *, topology: Topology, run: Run, readings: int,
                interval_s: float, seed: int, observer: Observer,
                lab: Lab | None = None, payload: str = DEFAULT_FORMAT) -> VariantResult:
    """Run one variant on a fresh network (or the lab's boards, flashed afresh); measure it
    after the tear-down."""
    directory = run.directory / str(variant)
    directory.mkdir(parents=True, exist_ok=True)
    vr = _VariantRun(variant=variant, directory=directory, sensors=sensors_of(topology),
                     payload=payload)
    error: str | None = None
    try:
        with contextlib.ExitStack() as stack:
            observer.phase(variant, "bring-up")
            net = stack.enter_context(
                EmulatedNetwork.up(topology, run=run, seed=seed, directory=directory,
                                   firmware_for=medium_firmware,
                                   lab=None if lab is None else LabSetup(lab, board_firmware))
            )
            _run_services_and_nodes(vr, net, stack, readings=readings, interval_s=interval_s,
                                    seed=seed, observer=observer)
            observer.phase(variant, "tear-down")
    except TestbedError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a service's own failure: record it, run the next
        error = f"{type(exc).__name__}: {exc}"
    if error is None:
        failures = [f for f in (r.failure() for r in vr.nodes.values()) if f]
        if failures:
            error = "; ".join(failures)
    events = vr.events()
    capture = directory / "capture.pcap"
    air = Air()
    if capture.exists():
        try:
            air = measure_air(capture, topology.radio.prefix,
                              readings_timeline(events, topology))
        except TestbedError as exc:
            error = error or str(exc)
    # --- issue 04 energy: radio times and energy per node from radio.csv + medium.json ---
    nodes, energy = _measure_energy(directory, vr.sensors, interval_s)
    if measured := measured_section(directory):  # a lab's power meters, beside the estimates
        energy = {**energy, "measured": measured}
    restarts = measure_restarts(events)
    nodes = {n: replace(nodes.get(n, NodeFigures()), reconnects=r.reconnects, queued=r.queued,
                        dropped=r.dropped) for n, r in restarts.items()} | {
        n: f for n, f in nodes.items() if n not in restarts}
    deliveries = read_deliveries(vr.deliveries)
    measured = measure_readings(events, deliveries, expected=readings * len(vr.sensors),
                                seed=seed)
    started = directory / SERVER_STARTED
    discovery = measure_discovery(
        events, air, deliveries, capture=capture,
        server_started=float(started.read_text()) if started.exists() else None)
    return VariantResult(
        readings=replace(measured, reconnects=sum(r.reconnects for r in restarts.values()),
                         queued=sum(r.queued for r in restarts.values()),
                         dropped=sum(r.dropped for r in restarts.values())),
        air=air, phases=measure_setup(events),
        capture=str(capture.relative_to(run.directory)) if capture.exists() else None,
        error=error, timed_out=vr.timed_out, nodes=nodes, energy=energy, discovery=discovery,
    )


def _measure_energy(directory: Path, sensors: Sequence[str], interval_s: float
                    ) -> tuple[dict[str, NodeFigures], dict[str, Any]]:
    """results.json `nodes` and `energy` (testbed.energy.report, default profile and mode;
    `testbed compare --profile/--rdc` recomputes them); an unreadable log: the reason, kept."""
    from testbed.energy.report import energest_energy_section, measure_energy

    if not (directory / "radio.csv").exists():  # no medium: a lab of real boards
        if not any((directory / "logs" / f"{s}.console").exists() for s in sensors):
            return {}, {}
        try:
            nodes, energy = energest_energy_section(directory, sensors=sensors,
                                                    interval_s=interval_s)
        except (TestbedError, OSError, ValueError, KeyError) as exc:
            return {}, {"error": f"{type(exc).__name__}: {exc}"}
        return {n: NodeFigures(**f) for n, f in nodes.items()}, energy
    try:
        nodes, energy = measure_energy(directory, sensors=sensors, interval_s=interval_s)
    except (TestbedError, OSError, ValueError, KeyError) as exc:
        return {}, {"error": f"{type(exc).__name__}: {exc}"}
    return {n: NodeFigures(**f) for n, f in nodes.items()}, energy


def _run_services_and_nodes(vr: _VariantRun, net: EmulatedNetwork, stack: contextlib.ExitStack,
                            *, readings: int, interval_s: float, seed: int,
                            observer: Observer) -> None:
    variant = vr.variant
    app = NodeApp.load(variant.app)
    cloud = net.netns(CLOUD)
    # fresh secrets per variant: they live in prosody's store and the 0600 CONFIG.json only
    sink_user = variant.spec.sink_user  # the account readings go to (variants.py)
    passwords = {name: secrets.token_urlsafe(12) for name in (*vr.sensors, sink_user)}
    configs = {
        name: _node_config(variant, name, readings=readings, interval_s=interval_s, seed=seed,
                           net=net, password=passwords.get(name), payload=vr.payload)
        for name in vr.sensors
    }
    sink_log = vr.logs / "sink.log"
    if variant.serverless:
        _run_serverless(vr, net, stack, configs, passwords, readings=readings,
                        interval_s=interval_s, observer=observer)
        return
    if variant.protocol is Protocol.XMPP:
        from testbed.services.prosody import Prosody
        from testbed.services.xmpp_sink import XmppSink

        observer.phase(variant, "prosody")
        # prosody's account store holds the passwords: it lives in a private directory, and
        # only config, logs and the public certificate are kept in <variant>/prosody/
        private = Path(tempfile.mkdtemp(prefix="prosody-", dir=net.run.private_dir))
        stack.callback(_keep_prosody_files, private, vr.directory / "prosody")
        prosody = stack.enter_context(Prosody(netns=cloud, address=net.cloud_address,
                                              domain=DOMAIN, accounts=passwords,
                                              directory=private, tls=variant.tls,
                                              stream_management=variant.spec.stream_management,
                                              pubsub_admins=(sink_user,)))
        # the proxies probe and announce (~1 s of RFC 6762 timing) while the sink logs in
        proxies = () if net.is_contiki else _start_discovery_services(vr, net, stack, observer)
        observer.phase(variant, "sink")
        sink = stack.enter_context(XmppSink(
            netns=cloud, server=str(net.cloud_address), domain=DOMAIN, user=sink_user,
            password=passwords[sink_user], mode=variant.sink_mode,
            nodes={n: f"{n}@{DOMAIN}/{configs[n]['resource']}" for n in vr.sensors},
            pubsub_service=f"pubsub.{DOMAIN}", readings=readings, interval_s=interval_s,
            tls=variant.tls, cafile=prosody.certificate if variant.tls else None,
            deliveries=vr.deliveries, log=sink_log, private_dir=net.run.private_dir,
        ))
        for proxy in proxies:
            proxy.ready()
        observer.phase(variant, "nodes")
        _start_nodes(vr, app, net, stack, configs)
    else:
        from testbed.services.coap_sink import CoapSink

        observer.phase(variant, "nodes")
        _start_nodes(vr, app, net, stack, configs)
        _wait_nodes_ready(vr, CONTIKI_READY_TIMEOUT_S if net.is_contiki else NODE_READY_TIMEOUT_S)
        observer.phase(variant, "sink")
        sink = stack.enter_context(CoapSink(
            netns=cloud, nodes={n: net.address(n) for n in vr.sensors}, mode=variant.sink_mode,
            sensor=SENSOR, readings=readings, interval_s=interval_s,
            deliveries=vr.deliveries, log=sink_log,
            start_offsets=start_offsets(vr.sensors, interval_s=interval_s, seed=seed),
        ))
    observer.phase(variant, "readings")
    lost = net.contiki.lost_boards if isinstance(net.contiki, LabPan) else list
    _wait_delivered(vr, readings=readings, interval_s=interval_s, sink=sink, observer=observer,
                    lost=lost)
    if lost():  # a board unplugged mid-variant: the border router's, a router's or a sensor's
        raise TestbedError("; ".join(lost()))


def _start_discovery_services(vr: _VariantRun, net: EmulatedNetwork,
                              stack: contextlib.ExitStack, observer: Observer) -> list[Any]:
    """On the border router: the advertising proxy that announces prosody on the PAN while it
    answers, and the discovery proxy that hands what is announced there to sensors beyond one
    hop (unicast DNS). Both are started, not awaited: the caller waits for their READY."""
    from testbed.services.advertising_proxy import AdvertisingProxy
    from testbed.services.discovery_proxy import DiscoveryProxy

    observer.phase(vr.variant, "discovery")
    br_ns = net.netns(net.topology.border_router)
    services = [
        AdvertisingProxy(netns=br_ns, interface=TAP, log=vr.logs / "advertising-proxy.log",
                         server={"address": str(net.cloud_address), "port": 5222,
                                 "domain": DOMAIN}),
        DiscoveryProxy(netns=br_ns, interface=TAP, domain=PAN_DOMAIN,
                       log=vr.logs / "discovery-proxy.log")]
    for service in services:  # both start at once
        stack.callback(service.stop)
        service.start()
    return services


def _run_serverless(vr: _VariantRun, net: EmulatedNetwork, stack: contextlib.ExitStack,
                    configs: dict[str, dict[str, Any]], passwords: dict[str, str], *,
                    readings: int, interval_s: float, observer: Observer) -> None:
    """xmpp-serverless: the XEP-0174 collector and the discovery proxy on the border router,
    no server; once every sensor delivered over XEP-0174 and half of all readings are in (or
    half the run's time passed), prosody and the XMPP sink start in the cloud, the collector
    announces the server and the sensors move."""
    from testbed.services.link_local_sink import LinkLocalSink
    from testbed.services.prosody import Prosody
    from testbed.services.xmpp_sink import XmppSink

    br = net.topology.border_router
    br_ns, cloud = net.netns(br), net.netns(CLOUD)
    observer.phase(vr.variant, "collector")
    collector = stack.enter_context(LinkLocalSink(
        netns=br_ns, interface=TAP, addresses=[str(net.address(br))],
        deliveries=vr.deliveries, log=vr.logs / "collector.log",
        instance=f"{vr.variant.spec.sink_user}@{br}"))
    for proxy in _start_discovery_services(vr, net, stack, observer):
        proxy.ready()
    observer.phase(vr.variant, "nodes")
    _start_nodes(vr, NodeApp.load(vr.variant.app), net, stack, configs)
    observer.phase(vr.variant, "readings (serverless)")
    # mid-run: every sensor delivered over XEP-0174 and half of all readings are in
    deadline = time.monotonic() + SETUP_ALLOWANCE_S[Protocol.XMPP] + readings * interval_s / 2
    while time.monotonic() < deadline:
        got = {(d.node, d.seq) for d in read_deliveries(vr.deliveries)}
        if {n for n, _ in got} >= set(vr.sensors) and 2 * len(got) >= readings * len(vr.sensors):
            break
        time.sleep(POLL_S)
    observer.phase(vr.variant, "prosody")
    (vr.directory / SERVER_STARTED).write_text(f"{time.time():.6f}\n")
    private = Path(tempfile.mkdtemp(prefix="prosody-", dir=net.run.private_dir))
    stack.callback(_keep_prosody_files, private, vr.directory / "prosody")
    stack.enter_context(Prosody(netns=cloud, address=net.cloud_address, domain=DOMAIN,
                                accounts=passwords, directory=private))
    stack.enter_context(XmppSink(
        netns=cloud, server=str(net.cloud_address), domain=DOMAIN,
        user=vr.variant.spec.sink_user, password=passwords[vr.variant.spec.sink_user],
        mode="message",
        nodes={n: f"{n}@{DOMAIN}/{configs[n]['resource']}" for n in vr.sensors},
        readings=readings, interval_s=interval_s, deliveries=vr.deliveries,
        log=vr.logs / "sink.log", private_dir=net.run.private_dir))
    observer.phase(vr.variant, "readings")
    _wait_delivered(vr, readings=readings, interval_s=interval_s, sink=collector,
                    observer=observer)
    observer.phase(vr.variant, "moves to the server")
    deadline = time.monotonic() + MOVE_ALLOWANCE_S
    while time.monotonic() < deadline and not all(
            any(e.kind == "ready" and e.get("serverless") is False for e in evs)
            for evs in vr.events().values()):
        time.sleep(POLL_S)


def _keep_prosody_files(private: Path, keep: Path) -> None:
    """Copy prosody's config, logs and certificate (not its data store) into the run; remove
    the private directory."""
    try:
        keep.mkdir(parents=True, exist_ok=True)
        for path in private.iterdir():
            if path.is_file() and path.suffix in (".lua", ".log", ".console", ".crt"):
                shutil.copy2(path, keep / path.name)
    finally:
        shutil.rmtree(private, ignore_errors=True)


# --- the comparison ------------------------------------------------------------------------


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _interrupt_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM between variants raise KeyboardInterrupt (inside a variant the
    network's own handlers do the same job); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _measure_memory(run: Run) -> dict[str, Any]:
    """The results.json `memory` section: bytecode per app, heap on QEMU's micro:bit when
    installed (else each app's heap.error says what to install). QEMU's pid goes into the
    run's registry entry while it runs. Under `contiki`: the C apps built for cc2538dk, in
    every run whatever its platform: the question they answer (does the client fit a
    128 KB-ROM node?) is about the protocol's code, and a Linux run's report then shows
    both implementations side by side; the builds are cached, so a run re-uses them."""
    from testbed.backends.qemu import QemuMicrobit
    from testbed.memory.contiki import SECTION
    from testbed.memory.summary import memory_section

    from testbed.contiki.build import FIRMWARE_DIR

    section = memory_section(QemuMicrobit(on_start=lambda pid: run.record_pid(pid, "qemu")),
                             cache=FIRMWARE_DIR.parent / "heap")
    section[SECTION] = _board_memory()
    return section


def _board_memory() -> dict[str, Any]:
    """testbed.memory.contiki's section of the C apps built (or cached) for the board; an app
    that does not build keeps its reason, and the run goes on."""
    from testbed.contiki.build import RELSTR, Target, build_firmware, compiler_version
    from testbed.contiki.tree import STAMP
    from testbed.memory.contiki import APPS, BOARD_TARGET, contiki_memory

    target = Target(BOARD_TARGET)
    images: dict[str, Any] = {}
    pins: list[str] | None = None
    for app in APPS:
        try:
            image = build_firmware(app, target)
        except (TestbedError, OSError) as exc:
            images[app] = f"memory: {exc}"
            continue
        images[app] = image
        stamp = image.contiki / STAMP
        pins = pins or (stamp.read_text().splitlines() if stamp.is_file() else None)
    return contiki_memory(images, target=str(target), compiler=compiler_version(target),
                          release=RELSTR, pins=pins)


def run_comparison(
    topology: Topology,
    *,
    variants: Sequence[Variant] = tuple(Variant),
    readings: int = 10,
    interval_s: float = 1.0,
    seed: int = 1,
    payload: str = DEFAULT_FORMAT,
    out: str | Path = "reports",
    observer: Observer | None = None,
    argv: Sequence[str] | None = None,
    lab: Lab | None = None,
    lease_wait_s: float = 0.0,
    on_lease_wait: Callable[[str], object] | None = None,
    measure_memory: bool = True,
) -> Path:
    """Run every variant on `topology`; return the run directory (with results.json).

    `lab`: the nodes are that lab's boards (every node played by a contiki board; flashed per
    variant, consoles over their serial ports, the capture from its sniffer board). The run
    leases every board it uses before it starts (backends/leases.py), waiting up to
    `lease_wait_s` for boards another run holds (then BoardBusy naming the holder), and holds
    them until it ends."""
    if not sensors_of(topology):
        raise BadInput(f"topology {topology.name!r} has no node with role sensor to run the apps")
    if lab is None:
        return _run_comparison(topology, variants=variants, readings=readings,
                               interval_s=interval_s, seed=seed, out=out, observer=observer,
                               argv=argv, payload=payload, measure_memory=measure_memory)
    from testbed.backends.leases import lease_boards
    from testbed.experiment.run import new_run_id

    topology = topology.on_platform("contiki")
    check_lab_plays(lab, topology)
    ns.require_net_admin()
    run_id = new_run_id()
    boards = [lab.board_for_node(name).name for name in topology.nodes]  # type: ignore[union-attr]
    boards += [b.name for b in lab.by_platform("sensniff")[:1]]  # the sniffer the run uses
    with lease_boards(lab, boards, run_id=run_id, timeout_s=lease_wait_s, on_wait=on_lease_wait):
        return _run_comparison(topology, variants=variants, readings=readings,
                               interval_s=interval_s, seed=seed, out=out, observer=observer,
                               argv=argv, lab=lab, run_id=run_id, payload=payload,
                               measure_memory=measure_memory)


def _run_comparison(topology: Topology, *, variants: Sequence[Variant], readings: int,
                    interval_s: float, seed: int, out: str | Path, observer: Observer | None,
                    argv: Sequence[str] | None, lab: Lab | None = None,
                    run_id: str | None = None, payload: str = DEFAULT_FORMAT,
                    measure_memory: bool = True) -> Path:
    ns.require_net_admin()
    observer = observer or _Silent()
    run = Run.create(topology_name=topology.name, topology_source=topology.source, seed=seed,
                     out=out, argv=argv, run_id=run_id)
    # emulated: Linux namespaces and the Python apps; contiki: Contiki-NG firmware
    if lab is None:
        run.annotate(backend="emulated", platform=str(topology.pan_platform))
    else:
        run.annotate(backend="lab", platform=str(topology.pan_platform), lab=lab.name,
                     boards={name: lab.board_for_node(name).name  # type: ignore[union-attr]
                             for name in topology.nodes})
    results = Results(run_id=run.run_id, topology=topology.name, seed=seed, readings=readings,
                      interval_s=interval_s, platform=str(topology.pan_platform),
                      payload=payload)
    write_results(results, run.directory)
    observer.started(run.directory)
    try:
        with _interrupt_on_signals():
            for variant in variants:
                try:
                    result = run_variant(variant, topology=topology, run=run, readings=readings,
                                         interval_s=interval_s, seed=seed, observer=observer,
                                         lab=lab, payload=payload)
                except (KeyboardInterrupt, SystemExit) as exc:  # SystemExit: SIGTERM in `up`
                    results = replace(results, interrupted=str(variant))
                    raise KeyboardInterrupt from exc
                results.variants[str(variant)] = result
                write_results(results, run.directory)
                observer.finished(variant, result)
            # --- issue 04 memory: once per run, not per variant (boots QEMU's micro:bit) ---
            if measure_memory:
                results = replace(results, memory=_measure_memory(run))
                write_results(results, run.directory)
    finally:
        write_results(results, run.directory)
        if not any(ns.netns_exists(name) for name in run.entry.netns):
            run.close()  # nothing of ours is left; otherwise `testbed clean` needs the entry
        run.finish()
    return run.directory
