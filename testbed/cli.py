"""The `testbed` command line: bring an emulated network up, run commands in it, take it down.

A thin front (typer + rich) over experiment/ and backends/: it parses arguments, shows
progress and tables, and turns every `TestbedError` into one line on stderr with the
error's exit status. It holds no network logic of its own.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from testbed.backends import netns as ns
from testbed.backends import userns
from testbed.backends.emulated import CLOUD, EmulatedNetwork, remove_created
from testbed.config.topology import load_topology
from testbed.errors import TestbedError
from testbed.experiment.run import Run, find_run, list_runs, registry_dir, remove_entry

EXIT_STATUSES = (
    "Exit status: 0 success; 1 a testbed error (a command, a namespace, the medium, no live "
    "run); 2 bad input (a topology file: the message names file:line:col) or bad usage; 130 "
    "interrupted during bring-up. `exec` passes the command's own status through."
)

app = typer.Typer(
    name="testbed",
    help=(
        "Emulated IEEE 802.15.4 / 6LoWPAN testbed: nodes in network namespaces, a radio "
        "medium between their TAPs, a border router to a cloud namespace.\n\n"
        "Examples:\n\n"
        "  testbed check topologies/default.yaml    # validate, show the route tree\n\n"
        "  testbed up topologies/line-3hop.yaml     # bring up, Ctrl-C to tear down\n\n"
        "  testbed exec n1 -- ping -c1 fd01::1      # in another terminal\n\n"
        "  testbed down                             # stop the live run\n\n"
        "  testbed clean                            # remove leftovers of killed runs\n\n"
        "  testbed pingall topologies/star-6.yaml   # up, every node pings the cloud, down\n\n"
        "  testbed compare --readings 5             # every XMPP/CoAP variant, results.json\n\n"
        + EXIT_STATUSES
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_argv: list[str] = []  # what main() was given: `up` re-executes with it in unprivileged mode
# A long path stays on one line for scripts that grep; piped to a file or a CI log, tables get
# room for every column instead of rich's 80-column default.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)


def _bring_up_progress(*, transient: bool = False) -> Progress:
    """Bring-up steps (namespaces, sysctls, TAPs, medium, routes) as bars on stderr."""
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
        TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=err,
        transient=transient,
    )


def _table(net: EmulatedNetwork) -> Table:
    table = Table(title=f"run {net.run_id} — topology {net.topology.name}")
    for column in ("node", "role", "short", "global address", "netns"):
        table.add_column(column)
    for name, node in net.topology.nodes.items():
        table.add_row(
            name, str(node.role), f"{net.short_address(name):#06x}", str(net.address(name)),
            net.netns(name),
        )
    table.add_row(CLOUD, "cloud", "-", str(net.cloud_address), net.netns(CLOUD))
    return table


@app.command()
def up(
    topology: Annotated[Path, typer.Argument(help="Topology YAML file.", show_default=False)],
    seed: Annotated[int, typer.Option(help="Seed of the radio medium's randomness.")] = 1,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where the run directory <time>-<run id>/ goes.")
    ] = Path("reports"),
) -> None:
    """Bring TOPOLOGY up and keep it up until Ctrl-C, SIGTERM or `testbed down`.

    Example: testbed up topologies/line.yaml --seed 7
    """
    topo = load_topology(topology)
    if not ns.has_net_admin() and not userns.in_private_userns():
        err.print("testbed: not root: running in an unprivileged user+net namespace "
                  "(`testbed exec`/`down` cannot reach it; stop with Ctrl-C)", highlight=False)
        userns.reexec_in_userns(_argv)
    run = Run.create(
        topology_name=topo.name, topology_source=topology, seed=seed, out=out_dir
    )
    progress = _bring_up_progress()
    progress.start()
    try:
        with EmulatedNetwork.up(topo, run=run, seed=seed, progress=progress) as net:
            try:  # from here on a signal means "tear down and exit 0"
                progress.stop()
                out.print(_table(net))
                how = (
                    "Ctrl-C" if userns.in_private_userns()
                    else f"Ctrl-C or `testbed down --run {run.run_id}`"
                )
                out.print(f"run directory: {run.directory}\nup; stop with {how}", highlight=False)
                while True:
                    signal.pause()
            except (KeyboardInterrupt, SystemExit):
                err.print(f"tearing down run {run.run_id} ...", highlight=False)
                progress.start()
    finally:
        progress.stop()
    out.print(f"run {run.run_id}: down", highlight=False)


@app.command()
def check(
    topology: Annotated[Path, typer.Argument(help="Topology YAML file.", show_default=False)],
) -> None:
    """Validate TOPOLOGY and show its nodes and route-over tree; needs no privilege.

    Example: testbed check topologies/default.yaml
    """
    from testbed.config.routes import route_tree

    topo = load_topology(topology)
    tree = route_tree(topo)
    table = Table(title=f"topology {topo.name} — channel {topo.radio.channel}, "
                  f"PAN {topo.radio.pan_id:#06x}, {topo.radio.addressing} addresses, "
                  f"prefix {topo.radio.prefix}")
    for column in ("node", "role", "platform", "short", "parent", "hops", "ETX"):
        table.add_column(column)
    for name, node in topo.nodes.items():
        table.add_row(
            name, str(node.role), str(node.platform), f"{topo.short_address(name):#06x}",
            tree.parent[name] or "-", str(tree.hops[name]), f"{tree.etx.get(name, 0.0):.2f}",
        )
    out.print(table)
    out.print(f"{len(topo.radio_links())} radio links; {topology}: ok", highlight=False)


@app.command()
def pingall(
    topology: Annotated[Path, typer.Argument(help="Topology YAML file.", show_default=False)],
    count: Annotated[int, typer.Option(help="Echo requests per node.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the radio medium's randomness.")] = 1,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where the run directory <time>-<run id>/ goes.")
    ] = Path("reports"),
) -> None:
    """Bring TOPOLOGY up, have every node ping the cloud host, tear down, show the figures.

    Exit status 1 when a node lost an echo. Example: testbed pingall topologies/star-6.yaml
    """
    from testbed.experiment.pingall import medium_figures, ping_all

    topo = load_topology(topology)
    ns.require_net_admin()
    run = Run.create(topology_name=topo.name, topology_source=topology, seed=seed, out=out_dir)
    progress = _bring_up_progress(transient=True)
    with progress:
        with EmulatedNetwork.up(topo, run=run, seed=seed, progress=progress) as net:
            task = progress.add_task(f"every node pings {net.cloud_address}", total=None)
            results = ping_all(net, count=count)
            progress.update(task, total=1, completed=1)
    figures = medium_figures(net)
    table = Table(title=f"pingall {topo.name}: every node -> cloud {net.cloud_address}")
    for column in ("node", "hops", "received", "rtt min ms", "avg ms", "max ms"):
        table.add_column(column, justify="left" if column == "node" else "right")
    for r in results:
        fmt = (lambda v: "-" if v is None else f"{v:.1f}")
        style = None if r.ok else "red"
        table.add_row(r.node, str(r.hops), f"{r.received}/{r.sent}", fmt(r.rtt_min_ms),
                      fmt(r.rtt_avg_ms), fmt(r.rtt_max_ms), style=style)
    out.print(table)
    out.print(
        f"on the air: {figures['frames']} data frames, {figures['acks']} ACKs, "
        f"{figures['retries']} retries, {figures['collisions']} collisions\n"
        f"capture: {net.capture_path}\nrun directory: {run.directory}", highlight=False,
    )
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command()
def compare(
    topology: Annotated[
        Path, typer.Option(help="Topology YAML file (its nodes with role sensor run the apps).")
    ] = Path("topologies/default.yaml"),
    variants: Annotated[
        Optional[str],
        typer.Option(help="Comma-separated variants (default: all), e.g. coap-get,xmpp-iq."),
    ] = None,
    readings: Annotated[int, typer.Option(min=1, help="Readings per sensor.")] = 10,
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between readings.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the radio medium and the sensor values.")] = 1,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where the run directory <time>-<run id>/ goes.")
    ] = Path("reports"),
    profile: Annotated[str, typer.Option(
        help="Energy profile: cc2420, at86rf231, nrf52840, cc2538.")] = "cc2420",
    rdc: Annotated[str, typer.Option(
        help="Radio duty cycling of the energy model: always-on or contikimac.")] = "always-on",
    wakeup_ms: Annotated[float, typer.Option(
        help="ContikiMAC wake-up interval in ms (125 = 8 Hz channel checks).")] = 125.0,
    battery_mah: Annotated[float, typer.Option(
        help="Battery capacity for the lifetime estimate (2xAA at 3 V).")] = 2500.0,
) -> None:
    """Run the XMPP and CoAP variants one after the other on TOPOLOGY; show what each cost.

    Each variant gets a fresh network, its own capture and logs in <run>/<variant>/, and its
    figures in <run>/results.json. Exit status 1 if a variant failed, 130 if interrupted
    (the variants finished until then are in results.json).

    Example: testbed compare --variants coap-observe-con,xmpp-message --readings 5
    """
    from testbed.experiment.scenario import run_comparison
    from testbed.experiment.variants import parse_variants

    chosen = parse_variants(variants)
    topo = load_topology(topology)
    from testbed.energy.report import EnergySettings  # issue 04: checked before the run

    energy_settings = EnergySettings.of(profile=profile, mode=rdc, wakeup_ms=wakeup_ms,
                                        battery_mah=battery_mah)
    ns.require_net_admin()
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
    )
    observer = _CompareProgress(progress)
    interrupted = False
    with progress:
        try:
            run_dir = run_comparison(
                topo, variants=chosen, readings=readings, interval_s=interval, seed=seed,
                out=out_dir, observer=observer, argv=["testbed", *_argv],
            )
        except KeyboardInterrupt:  # torn down, finished variants written; click would say 1
            interrupted = True
            run_dir = observer.run_dir
    from testbed.experiment.results import RESULTS_FILE, read_results

    if run_dir is None:
        raise typer.Exit(130)
    if energy_settings != EnergySettings():  # the run recorded the defaults: recompute
        from testbed.energy.report import rewrite_energy
        from testbed.experiment.scenario import sensors_of

        rewrite_energy(run_dir, sensors=sensors_of(topo), settings=energy_settings)
    results = read_results(run_dir)
    # all eight columns readable in a log or a pipe too (rich assumes 80 there)
    out.print(_compare_table(results))
    from testbed.memory.summary import memory_lines  # issue 04: the memory figures per app

    for line in memory_lines(results.memory):
        out.print(line, highlight=False, markup=False)
    out.print(f"run directory: {run_dir}\nresults: {run_dir / RESULTS_FILE}", highlight=False)
    if interrupted:
        err.print("testbed: interrupted", highlight=False)
        raise typer.Exit(130)
    if any(not v.ok for v in results.variants.values()):
        for name, v in results.variants.items():
            if v.error:
                err.print(f"testbed: {name}: {v.error}", highlight=False, markup=False)
        raise typer.Exit(1)


class _CompareProgress:
    """The scenario's observer: one spinner line per variant, its phase as the description."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, object] = {}
        self.run_dir: Path | None = None

    def started(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def phase(self, variant: object, what: str) -> None:
        name = str(variant)
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(name, total=1)
        self.progress.update(self.tasks[name], description=f"{name}: {what}")  # type: ignore[arg-type]

    def finished(self, variant: object, result: object) -> None:
        name = str(variant)
        r = result.readings  # type: ignore[attr-defined]
        state = f"error: {result.error}" if result.error else (  # type: ignore[attr-defined]
            f"{r.delivered}/{r.sent} delivered")
        self.progress.update(self.tasks[name], description=f"{name}: {state}",  # type: ignore[arg-type]
                             completed=1)


def _energy_cells(v) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Issue 04: sensors' energy per delivered reading and the shortest sensor lifetime, in
    the mode results.json's `energy` section names (radio only)."""
    per = (v.energy.get("per_reading_mj") or {}).get("sensors")
    lives = [d for d in (v.energy.get("lifetime_days") or {}).values() if d is not None]
    return ("-" if per is None else f"{per:.1f}", f"{min(lives):.1f}" if lives else "-")


def _energy_caption(results) -> str:  # type: ignore[no-untyped-def]
    """Issue 04: which profile and radio duty-cycling mode the energy columns use."""
    energy = next((v.energy for v in results.variants.values() if v.energy.get("mode")), None)
    if energy is None:
        return ""
    mode = energy["mode"] + (f" {energy['wakeup_ms']:g} ms" if energy.get("wakeup_ms") else "")
    return (f"; mJ/reading: sensors' radio energy per delivered reading at the reading rate, "
            f"life d: shortest sensor lifetime on {energy['battery']['capacity_mah']:g} mAh "
            f"({energy['profile']['name']}, {mode}; radio only)")


def _compare_table(results) -> Table:  # type: ignore[no-untyped-def]
    table = Table(title=f"compare {results.topology}: {results.readings} readings per sensor "
                  f"every {results.interval_s} s, seed {results.seed}, run {results.run_id}")
    for column in ("variant", "delivered/sent", "frames", "PSDU bytes", "all-in B/rdg",
                   "steady B/rdg", "set-up B", "latency p50 ms", "p95 ms", "set-up ms",
                   "mJ/reading", "life d"):
        if column == "variant":
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="right")
    table.caption = ("PSDU bytes: MAC header to FCS of every frame (tshark's frame.len); all-in: "
                     "PSDU bytes / delivered reading; steady and set-up B: bytes on the air "
                     "incl. PHY SHR+PHR (analysis)")
    fmt = (lambda v: "-" if v is None else f"{v:.0f}")
    for name, v in results.variants.items():
        r = v.readings
        delivered = f"{r.delivered}/{r.sent}" + (f" (+{r.duplicates} dup)" if r.duplicates else "")
        if v.timed_out:
            delivered += " timeout"
        style = "red" if v.error else ("yellow" if r.delivered < r.sent else None)
        table.add_row(name, delivered, str(v.air.frames), str(v.air.bytes),
                      fmt(v.bytes_per_reading),
                      fmt(v.air.per_reading.get("bytes") if v.air.per_reading.get("readings")
                          else None),
                      fmt(v.air.setup.get("bytes")), fmt(r.latency_ms.p50), fmt(r.latency_ms.p95),
                      fmt(v.phases.setup_ms.p50), *_energy_cells(v), style=style)
    table.caption += _energy_caption(results)
    if results.interrupted:
        table.caption = f"interrupted during {results.interrupted}; " + table.caption
    return table


@app.command(
    "exec",
    context_settings={"ignore_unknown_options": True},
)
def exec_(
    node: Annotated[str, typer.Argument(help="Node name, or `cloud`.", show_default=False)],
    command: Annotated[
        list[str], typer.Argument(help="The command and its arguments (after --).")
    ],
    run_id: Annotated[
        Optional[str], typer.Option("--run", help="Run id (default: the one live run).")
    ] = None,
) -> None:
    """Run COMMAND inside NODE's namespace of the live run; exits with COMMAND's status.

    Example: testbed exec n1 -- ip -6 route
    """
    entry = find_run(run_id)
    name = entry.nodes.get(node)
    if name is None:
        known = ", ".join(entry.nodes) or "none"
        raise TestbedError(f"run {entry.run_id} has no node {node!r} (nodes: {known})")
    if not ns.netns_exists(name):
        raise TestbedError(f"run {entry.run_id}: namespace {name} is gone (run `testbed clean`)")
    sys.stdout.flush()
    os.execvp("ip", ["ip", "netns", "exec", name, *command])


@app.command()
def down(
    run_id: Annotated[
        Optional[str], typer.Option("--run", help="Run id (default: the one live run).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the tear-down.")] = 60.0,
) -> None:
    """Stop a run: signal its `testbed up`, or tear it down here if that process is dead.

    Example: testbed down --run 3fa91c
    """
    entry = find_run(run_id, or_dead=True)
    if entry.owner.signal(signal.SIGTERM):
        deadline = time.monotonic() + timeout
        while entry.path.exists() and entry.owner.alive():
            if time.monotonic() > deadline:
                raise TestbedError(
                    f"run {entry.run_id}: `testbed up` (pid {entry.owner.pid}) did not finish "
                    f"tear-down within {timeout} s"
                )
            time.sleep(0.05)
        if not entry.path.exists():
            out.print(f"run {entry.run_id}: down", highlight=False)
            return
    _remove_leftovers(entry)


def _remove_leftovers(entry) -> None:  # type: ignore[no-untyped-def]
    removed = remove_created(entry.netns, entry.pids)
    for what in removed.processes:
        out.print(f"run {entry.run_id}: killed {what}", highlight=False)
    for name in removed.netns:
        out.print(f"run {entry.run_id}: deleted namespace {name}", highlight=False)
    if removed.left:
        raise TestbedError(f"run {entry.run_id}: could not delete namespaces {removed.left}")
    remove_entry(entry)
    out.print(f"run {entry.run_id}: removed registry entry {entry.path}", highlight=False)


@app.command()
def clean() -> None:
    """Remove what killed runs left behind: exactly what their registry entries list.

    Live runs are left alone (use `testbed down`). Nothing is removed by name pattern.

    Example: testbed clean
    """
    entries = list_runs()
    dead = [e for e in entries if not e.owner_alive()]
    for entry in entries:
        if entry not in dead:
            out.print(
                f"run {entry.run_id}: live (pid {entry.owner.pid}), left alone", highlight=False
            )
    for entry in dead:
        _remove_leftovers(entry)
    if not dead:
        out.print(f"nothing to clean in {registry_dir()}", highlight=False)


@app.command()
def analyze(
    capture: Annotated[Path, typer.Argument(help="A pcap of IEEE 802.15.4 frames with FCS.",
                                            show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the air section as JSON.")
                       ] = False,
    events: Annotated[Optional[Path], typer.Option(
        "--events", help="A variant directory (logs/*.jsonl, medium-spec.json): the nodes' "
        "reading events attribute TLS-encrypted readings by time.", show_default=False)] = None,
) -> None:
    """Attribute every byte of CAPTURE: by layer, by purpose, per reading, set-up, overhead.

    Example: testbed analyze reports/<run>/xmpp-message-tls/capture.pcap
    --events reports/<run>/xmpp-message-tls
    """
    import json

    from testbed.analysis.account import analyze_capture
    from testbed.analysis.report import air_tables
    from testbed.analysis.timeline import load_timeline

    if events is not None:
        prefix, timeline = load_timeline(events)
        report = analyze_capture(capture, prefix=prefix, timeline=timeline)
    else:
        report = analyze_capture(capture)
    if as_json:
        out.print_json(json.dumps(report.to_json()))
        return
    for table in air_tables(report, title=str(capture)):
        out.print(table)


@app.command()
def sniff(
    serial_port: Annotated[Optional[str], typer.Option(
        "--serial", help="A sensniff board: serial port or pyserial URL (/dev/ttyACM0, "
        "rfc2217://host:port, or the medium's <run>/sensniff.pty).", show_default=False)] = None,
    channel: Annotated[Optional[int], typer.Option(
        help="Tune the sniffer to this channel first (--serial only).", min=11, max=26,
        show_default=False)] = None,
    pcap: Annotated[Optional[Path], typer.Option(
        "--pcap", help="Replay a pcap/pcapng file (LINKTYPE 195 or 230, gzip allowed).",
        show_default=False)] = None,
    out_path: Annotated[Path, typer.Option("--out", help="The LINKTYPE 195 pcap to write.")
                        ] = Path("capture.pcap"),
    count: Annotated[Optional[int], typer.Option(help="Stop after N frames.", min=1,
                                                 show_default=False)] = None,
    baudrate: Annotated[int, typer.Option(help="Serial line speed.")] = 460800,
) -> None:
    """Show every IEEE 802.15.4 frame from a sniffer or a capture file, one line each, and
    write them to a pcap. Ctrl-C stops (the pcap is complete up to then).

    Examples: testbed sniff --serial /dev/ttyACM0 --channel 26 --out air.pcap ;
    testbed sniff --pcap wireshark.pcapng --count 20
    """
    from testbed.capture.frames import FrameSink
    from testbed.capture.live import describe
    from testbed.capture.replay import PcapSource
    from testbed.capture.serial_source import SensniffSource
    from testbed.errors import BadInput

    if (serial_port is None) == (pcap is None):
        raise BadInput("sniff: give exactly one source, --serial PORT or --pcap FILE")
    if channel is not None and serial_port is None:
        raise BadInput("sniff: --channel tunes a serial sniffer; it needs --serial")
    if pcap is not None and out_path.resolve() == pcap.resolve():
        raise BadInput(f"sniff: --out {out_path} would overwrite the capture being replayed")
    written = 0
    first: float | None = None
    with contextlib.ExitStack() as stack:
        if serial_port is not None:
            sniffer = stack.enter_context(SensniffSource(serial_port, baudrate))
            if channel is not None:
                err.print(f"sniffing on channel {sniffer.set_channel(channel)}", highlight=False)
            frames = sniffer.frames(count=count)
        else:
            sniffer = None
            frames = itertools.islice(iter(PcapSource(pcap)), count)
        sink = stack.enter_context(FrameSink(out_path))
        try:
            for frame in frames:
                sink.write(frame)
                written += 1
                first = frame.time if first is None else first
                line = describe(frame)
                seq = "" if line.seq is None else f"#{line.seq}"
                out.print(f"{frame.time - first:12.6f} {line.length:>4} {line.src:>9} -> "
                          f"{line.dst:<9} {seq:>5} {line.info}", highlight=False, markup=False)
                if sniffer is not None:
                    sink.flush()  # a live capture is readable while it grows
        except KeyboardInterrupt:
            err.print("stopped", highlight=False)
    skipped = ""
    if sniffer is not None and sniffer.decoder.skipped:
        skips = sniffer.decoder.skipped
        skipped = (f"; skipped {sum(s.length for s in skips)} bytes of the serial stream "
                   f"(first at offset {skips[0].offset}: {skips[0].reason})")
    err.print(f"{written} frames written to {out_path}{skipped}", highlight=False)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point (`sys.exit(main())`): one line per error, documented statuses.

    Usage errors are typer's own (status 2); a `TestbedError` is one line, no traceback.
    """
    global _argv
    _argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if userns.in_private_userns():
            userns.private_run_dir()
        app(args=argv, prog_name="testbed")
    except TestbedError as exc:
        err.print(f"testbed: {exc}", highlight=False, markup=False, soft_wrap=True)
        return exc.exit_status
    except KeyboardInterrupt:
        err.print("testbed: interrupted", highlight=False)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
