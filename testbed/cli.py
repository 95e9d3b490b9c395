"""The `testbed` command line: bring an emulated network up, run commands in it, take it down,
compare the protocols, flash lab boards, render reports, check the machine.

A thin front (typer + rich) over experiment/, backends/, report/ and doctor: it parses
arguments, shows progress and tables (or `--json` for scripts), and turns every
`TestbedError` into one line on stderr with the error's exit status. It holds no network
logic of its own.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
)
from rich.table import Table

from testbed.backends import netns as ns
from testbed.backends import userns
from testbed.backends.emulated import CLOUD, EmulatedNetwork
from testbed.config.topology import Topology, load_topology
from testbed.contiki.build import medium_firmware
from testbed.config.yamlmarks import did_you_mean
from testbed.errors import BadInput, TestbedError
from testbed.experiment.run import Run, find_run, list_runs, registry_dir, remove_dead_run

if TYPE_CHECKING:
    from testbed.experiment.results import Results

EXIT_STATUSES = (
    "Exit status: 0 success; 1 a testbed error (a command, a namespace, the medium, no live "
    "run, a board), a failed variant or flash, or a missing required dependency (doctor); "
    "2 bad input (a topology or lab file: the message names file:line:col) or bad usage; "
    "75 a board is busy (another run holds it: retry later); 130 interrupted. `exec` passes "
    "the command's own status through. Errors are one line on stderr; --json output goes to "
    "stdout."
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
        "  testbed report reports/<run>             # re-render report.html + summary.md\n\n"
        "  testbed report reports/<a> reports/<b>   # what changed between two runs\n\n"
        "  testbed flash --lab labs/desk.yaml --app nodes/coap-sensor   # the lab's boards\n\n"
        "  testbed lab status labs/desk.yaml        # who holds which board, until when\n\n"
        "  testbed doctor                           # what this machine lacks, what to install\n\n"
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

JsonOption = Annotated[bool, typer.Option(
    "--json", help="Print machine-readable JSON on stdout instead of tables; errors stay one "
    "line on stderr with the documented exit status.")]

OutOption = Annotated[Path, typer.Option(
    "--out", help="Where the run directory <time>-<run id>/ goes.")]
RunOption = Annotated[Optional[str], typer.Option(
    "--run", help="Run id (default: the one live run).")]
WaitOption = Annotated[float, typer.Option(
    "--wait", min=0.0, help="Seconds to wait for boards another run holds; then exit 75 "
    "naming the holder (`testbed lab status LAB` shows who holds what).")]


def _print_json(data: Any) -> None:
    """Plain JSON on stdout: no rich markup, no colour, one document per command."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, as Ctrl-C does, so `with` blocks clean up (a booted
    QEMU, a running flasher) before the process ends."""
    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _bring_up_progress(*, transient: bool = False, disable: bool = False) -> Progress:
    """Bring-up steps (namespaces, sysctls, TAPs, medium, routes) as bars on stderr."""
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
        TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=err,
        transient=transient, disable=disable,
    )


def _table(net: EmulatedNetwork) -> Table:
    table = Table(title=f"run {net.run_id} — topology {net.topology.name}")
    for column in ("node", "role", "short", "global address", "netns"):
        table.add_column(column)
    for name, node in net.topology.nodes.items():
        table.add_row(
            name, str(node.role), f"{net.short_address(name):#06x}", str(net.address(name)),
            net.netns(name) if name in net.namespaced else "- (Contiki firmware)",
        )
    table.add_row(CLOUD, "cloud", "-", str(net.cloud_address), net.netns(CLOUD))
    return table


@app.command()
def up(
    topology: Annotated[Path, typer.Argument(help="Topology YAML file.", show_default=False)],
    seed: Annotated[int, typer.Option(help="Seed of the radio medium's randomness.")] = 1,
    out_dir: OutOption = Path("reports"),
) -> None:
    """Bring TOPOLOGY up and keep it up until Ctrl-C, SIGTERM or `testbed down`.

    Example: testbed up topologies/line-3hop.yaml --seed 7
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
        with EmulatedNetwork.up(topo, run=run, seed=seed, progress=progress,
                                firmware_for=medium_firmware) as net:
            net.start_idle_nodes()  # a Contiki PAN's sensors: in the DODAG, no app
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
    as_json: JsonOption = False,
) -> None:
    """Validate TOPOLOGY and show its nodes and route-over tree; needs no privilege.

    Example: testbed check topologies/default.yaml --json
    """
    from testbed.config.routes import route_tree

    topo = load_topology(topology)
    tree = route_tree(topo)
    if as_json:
        _print_json({
            "topology": topo.name, "source": str(topology), "ok": True,
            "radio": {"channel": topo.radio.channel, "pan_id": topo.radio.pan_id,
                      "addressing": str(topo.radio.addressing),
                      "prefix": str(topo.radio.prefix)},
            "border_router": topo.border_router,
            "nodes": [{"name": name, "role": str(node.role), "platform": str(topo.platform_of(name)),
                       "short_address": topo.short_address(name), "parent": tree.parent[name],
                       "hops": tree.hops[name], "etx": tree.etx.get(name, 0.0)}
                      for name, node in topo.nodes.items()],
            "radio_links": [{"a": link.a, "b": link.b, "prr": link.prr}
                            for link in topo.radio_links()],
        })
        return
    table = Table(title=f"topology {topo.name} — channel {topo.radio.channel}, "
                  f"PAN {topo.radio.pan_id:#06x}, {topo.radio.addressing} addresses, "
                  f"prefix {topo.radio.prefix}")
    for column in ("node", "role", "platform", "short", "parent", "hops", "ETX"):
        table.add_column(column)
    for name, node in topo.nodes.items():
        table.add_row(
            name, str(node.role), str(topo.platform_of(name)), f"{topo.short_address(name):#06x}",
            tree.parent[name] or "-", str(tree.hops[name]), f"{tree.etx.get(name, 0.0):.2f}",
        )
    out.print(table)
    out.print(f"{len(topo.radio_links())} radio links; {topology}: ok", highlight=False)


@app.command()
def pingall(
    topology: Annotated[Path, typer.Argument(help="Topology YAML file.", show_default=False)],
    count: Annotated[int, typer.Option(help="Echo requests per node.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the radio medium's randomness.")] = 1,
    out_dir: OutOption = Path("reports"),
    as_json: JsonOption = False,
) -> None:
    """Bring TOPOLOGY up, have every node ping the cloud host, tear down, show the figures.

    Exit status 1 when a node lost an echo.

    Example: testbed pingall topologies/star-6.yaml --count 5
    """
    from dataclasses import asdict

    from testbed.experiment.pingall import medium_figures, ping_all

    topo = load_topology(topology)
    ns.require_net_admin()
    run = Run.create(topology_name=topo.name, topology_source=topology, seed=seed, out=out_dir)
    progress = _bring_up_progress(transient=True, disable=as_json)
    with progress:
        with EmulatedNetwork.up(topo, run=run, seed=seed, progress=progress,
                                firmware_for=medium_firmware) as net:
            net.start_idle_nodes()  # a Contiki PAN's sensors: in the DODAG, no app
            task = progress.add_task(f"every node pings {net.cloud_address}", total=None)
            results = ping_all(net, count=count)
            progress.update(task, total=1, completed=1)
    figures = medium_figures(net)
    if as_json:
        _print_json({"topology": topo.name, "run_directory": str(run.directory),
                     "capture": str(net.capture_path), "cloud_address": str(net.cloud_address),
                     "ok": all(r.ok for r in results),
                     "nodes": [{**asdict(r), "ok": r.ok} for r in results], "medium": figures})
        if not all(r.ok for r in results):
            raise typer.Exit(1)
        return
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
    payload: Annotated[str, typer.Option(
        help="The readings' application format, the same in every variant: senml-json, "
             "senml-cbor, xep0323 or text.")] = "senml-json",
    repeat: Annotated[int, typer.Option(
        min=1, help="Run the whole comparison N times with seeds SEED..SEED+N-1; results.json "
                    "gets each figure's median and 95 % interval, the report draws them.")] = 1,
    out_dir: OutOption = Path("reports"),
    profile: Annotated[str, typer.Option(
        help="Energy profile: cc2420, at86rf231, nrf52840, cc2538.")] = "cc2420",
    rdc: Annotated[str, typer.Option(
        help="Radio duty cycling of the energy model: always-on or contikimac.")] = "always-on",
    wakeup_ms: Annotated[float, typer.Option(
        help="ContikiMAC wake-up interval in ms (125 = 8 Hz channel checks).")] = 125.0,
    battery_mah: Annotated[float, typer.Option(
        help="Battery capacity for the lifetime estimate (2xAA at 3 V).")] = 2500.0,
    platform: Annotated[Optional[str], typer.Option(
        help="What the nodes run: emulated (Linux namespaces, Python apps), contiki "
             "(Contiki-NG firmware), or both, 'emulated,contiki': one run each, then a "
             "delta report (default: the topology's).")] = None,
    lab: Annotated[Optional[Path], typer.Option(
        help="Run on this lab's boards instead of emulated nodes: every node of the topology "
             "is played by a contiki board of the lab file (flashed per variant; the capture "
             "from its sniffer board), e.g. labs/native.yaml.", show_default=False)] = None,
    wait: WaitOption = 30.0,
    as_json: JsonOption = False,
) -> None:
    """Run the XMPP and CoAP variants one after the other on TOPOLOGY; show what each cost.

    Each variant gets a fresh network, its own capture and logs in <run>/<variant>/, and its
    figures in <run>/results.json; report.html and summary.md are rendered at the end.
    Exit status 1 if a variant failed, 130 if interrupted (the variants finished until then
    are in results.json). --json prints results.json's content and the files' paths.

    Example: testbed compare --variants coap-observe-con,xmpp-message --readings 5
    """
    from testbed.experiment.variants import parse_variants

    chosen = parse_variants(variants)
    _check_payload(payload)
    topo = load_topology(topology)
    platforms = _parse_platforms(platform)
    the_lab = None
    if lab is not None:
        from testbed.backends.lab import check_lab_plays
        from testbed.config.lab import load_lab

        if platforms not in ([], ["contiki"]):
            raise BadInput("--lab: a lab's boards run Contiki-NG firmware (--platform contiki)")
        platforms = ["contiki"]
        the_lab = load_lab(lab)
        check_lab_plays(the_lab, topo.on_platform("contiki"))
    from testbed.experiment.variants import for_platform

    for name in platforms or [str(topo.pan_platform)]:  # refuse before any run starts
        for_platform(chosen, name, explicit=variants is not None)
    from testbed.energy.report import EnergySettings  # issue 04: checked before the run

    energy_settings = EnergySettings.of(profile=profile, mode=rdc, wakeup_ms=wakeup_ms,
                                        battery_mah=battery_mah)
    ns.require_net_admin()
    if len(platforms) < 2:
        on = topo.on_platform(platforms[0]) if platforms else topo
        status = _compare_on(on, chosen, readings=readings, interval=interval, seed=seed,
                             payload=payload, repeat=repeat, out_dir=out_dir,
                             energy_settings=energy_settings, as_json=as_json,
                             explicit=variants is not None, lab=the_lab, wait=wait)
        if status:
            raise typer.Exit(status)
        return
    runs, statuses = [], []
    for name in platforms:  # one run each, then B - A
        err.print(f"testbed: platform {name}", highlight=False)
        statuses.append(_compare_on(topo.on_platform(name), chosen, readings=readings,
                                    interval=interval, seed=seed, payload=payload,
                                    repeat=repeat, out_dir=out_dir,
                                    energy_settings=energy_settings, as_json=as_json,
                                    explicit=variants is not None, runs=runs))
        if statuses[-1] == 130:
            raise typer.Exit(130)
    from testbed.report import compare_runs, delta_table, write_delta_report

    if len(runs) == 2:
        delta = compare_runs(runs[0], runs[1])
        page = Path(write_delta_report(delta, runs[1]))
        if not as_json:
            out.print(delta_table(delta))
        (err if as_json else out).print(  # --json: stdout keeps each run's JSON alone
            f"delta report ({platforms[1]} - {platforms[0]}): {page}", highlight=False)
    if any(statuses):
        raise typer.Exit(max(statuses))


_PLATFORMS = ("emulated", "contiki")


def _check_payload(name: str) -> None:
    """`--payload`: one of services/payload.py FORMATS (BadInput, exit 2, for anything else)."""
    from testbed.services.payload import FORMATS

    if name not in FORMATS:
        raise BadInput(f"--payload: unknown format {name!r}{did_you_mean(name, FORMATS)} "
                       f"(expected {', '.join(FORMATS)})")


def _parse_platforms(text: str | None) -> list[str]:
    """`--platform`: one or two of emulated, contiki (BadInput, exit 2, for anything else)."""
    if text is None:
        return []
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        if name not in _PLATFORMS:
            raise BadInput(f"--platform: unknown platform {name!r}{did_you_mean(name, _PLATFORMS)}"
                           f" (expected {', '.join(_PLATFORMS)}, or both comma-separated)")
    if not names or len(names) != len(set(names)):
        raise BadInput(f"--platform: expected one or two different platforms (got {text!r})")
    return names


def _compare_on(topo: Topology, chosen: Any, *, readings: int, interval: float, seed: int,
                payload: str, out_dir: Path, repeat: int = 1, energy_settings: Any,
                as_json: bool, explicit: bool,
                runs: list[Path] | None = None, lab: Any = None, wait: float = 0.0) -> int:
    """One comparison run on `topo`: the verdict, the files; the exit status it deserves."""
    from testbed.energy.report import EnergySettings
    from testbed.experiment.scenario import run_comparison, sensors_of
    from testbed.experiment.variants import for_platform

    chosen, skipped = for_platform(chosen, str(topo.pan_platform), explicit=explicit)
    for line in skipped:
        err.print(f"testbed: {line}", highlight=False, markup=False)

    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
        TextColumn("{task.fields[figures]}"), TimeElapsedColumn(), console=err,
        disable=as_json or not err.is_terminal,  # bars are for a person at a terminal
    )
    interrupted = False
    run_dir: Path | None = None  # the first repeat's: the run directory the user is shown
    repeats: list[Path] = []  # the other repeats', under <run_dir>/repeats/
    with progress:
        for index in range(repeat):
            observer = _CompareProgress(progress, expected=readings * len(sensors_of(topo)),
                                        label=f"[{index + 1}/{repeat}] " if repeat > 1 else "")
            try:
                done = run_comparison(
                    topo, variants=chosen, readings=readings, interval_s=interval,
                    seed=seed + index, payload=payload,
                    out=out_dir if run_dir is None else run_dir / "repeats", observer=observer,
                    argv=["testbed", *_argv], lab=lab, lease_wait_s=wait,
                    on_lease_wait=lambda why: err.print(f"testbed: {why}", markup=False),
                    measure_memory=run_dir is None,  # the apps' memory does not change per seed
                )
            except KeyboardInterrupt:  # torn down, finished variants written; click would say 1
                interrupted = True
                if run_dir is None:
                    run_dir = observer.run_dir
                break
            if run_dir is None:
                run_dir = done
            else:
                repeats.append(done)
    from testbed.experiment.results import RESULTS_FILE, read_results

    if run_dir is None:
        return 130
    if runs is not None:
        runs.append(run_dir)
    if energy_settings != EnergySettings():  # the run recorded the defaults: recompute
        from testbed.energy.report import rewrite_energy

        for directory in (run_dir, *repeats):
            rewrite_energy(directory, sensors=sensors_of(topo), settings=energy_settings)
    if repeats:
        _write_spread(run_dir, repeats)
    results = read_results(run_dir)
    report_error: str | None = None
    files = None
    try:
        from testbed.report import render_report

        files = render_report(run_dir)
    except TestbedError as exc:  # the figures are safe in results.json: say so, exit 1
        report_error = f"report: {exc}"
    if as_json:
        _print_json({
            "run_directory": str(run_dir), "results": str(run_dir / RESULTS_FILE),
            "report": None if files is None else str(files.html),
            "summary": None if files is None else str(files.markdown),
            "content": json.loads((run_dir / RESULTS_FILE).read_text()),
        })
    else:
        from testbed.report.model import memory_lines  # the report's wording, thousands separated
        from testbed.report import spread_table, verdict_table

        out.print(verdict_table(results))
        if (spread := spread_table(results)) is not None:
            out.print(spread)
        for line in memory_lines(results.memory):
            out.print(line, highlight=False, markup=False)
        out.print(f"run directory: {run_dir}\nresults: {run_dir / RESULTS_FILE}",
                  highlight=False)
        if files is not None:
            out.print(f"report: {files.html}\nsummary: {files.markdown}", highlight=False)
    if interrupted:
        err.print("testbed: interrupted", highlight=False)
        return 130
    failed = _say_failed_variants(results)
    if report_error:
        err.print(f"testbed: {report_error}", highlight=False, markup=False)
        failed = True
    return 1 if failed else 0


def _write_spread(run_dir: Path, repeats: Sequence[Path]) -> None:
    """results.json of the first repeat gets the `repeats` section over all of them."""
    from dataclasses import replace

    from testbed.experiment.results import read_results, write_results
    from testbed.report.spread import spread_section

    first = read_results(run_dir)
    runs = [first, *(read_results(d) for d in repeats)]
    section = spread_section(runs, [str(d.relative_to(run_dir)) for d in (run_dir, *repeats)])
    write_results(replace(first, repeats=section), run_dir)


def _say_failed_variants(results: Results, *, run: str = "") -> bool:
    """One stderr line per variant that failed (`testbed: [<run>: ]<variant>: <error>`); True
    if any did. `compare` and `report` (of one run or two) end with it, and exit 1 when True."""
    failed = False
    where = f"{run}: " if run else ""
    for name, variant in results.variants.items():
        if variant.error:
            err.print(f"testbed: {where}{name}: {variant.error}", highlight=False, markup=False)
            failed = True
    return failed


class _CompareProgress:
    """The scenario's observer: one bar per variant, its phase as the description and the
    readings delivered as the bar once the readings phase starts."""

    def __init__(self, progress: Progress, *, expected: int, label: str = "") -> None:
        self.progress = progress
        self.label = label  # "[2/5] " while repeating
        self.expected = expected  # readings x sensors, per variant
        self.tasks: dict[str, Any] = {}
        self.run_dir: Path | None = None

    def started(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def _task(self, name: str) -> Any:
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(self.label + name, total=None, figures="")
        return self.tasks[name]

    def phase(self, variant: object, what: str) -> None:
        name = str(variant)
        task = self._task(name)
        self.progress.update(task, description=f"{self.label}{name}: {what}")
        if what == "readings":
            self.progress.update(task, total=self.expected, completed=0,
                                 figures=f"0/{self.expected} readings")

    def delivered(self, variant: object, delivered: int, expected: int) -> None:
        """Readings at the sink so far (the scenario calls it while it waits for them)."""
        self.progress.update(self._task(str(variant)), total=expected, completed=delivered,
                             figures=f"{delivered}/{expected} readings")

    def finished(self, variant: object, result: Any) -> None:
        name = str(variant)
        r = result.readings
        expected = max(r.expected, r.sent, 1)
        state = f"error: {result.error}" if result.error else f"{r.delivered}/{r.sent} delivered"
        self.progress.update(self._task(name), description=f"{self.label}{name}: {state}",
                             total=expected,
                             completed=r.delivered, figures=f"{r.delivered}/{expected} readings")

@app.command(
    "exec",
    context_settings={"ignore_unknown_options": True},
)
def exec_(
    node: Annotated[str, typer.Argument(help="Node name, or `cloud`.", show_default=False)],
    command: Annotated[
        list[str], typer.Argument(help="The command and its arguments (after --).")
    ],
    run_id: RunOption = None,
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
    run_id: RunOption = None,
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


def _remove_leftovers(entry, *, say: bool = True) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Remove what a dead run's registry entry lists; what was removed, for --json."""
    removed = remove_dead_run(entry)
    if removed is None:  # another process (a run starting, another clean) removed it just now
        if say:
            out.print(f"run {entry.run_id}: already removed by another process", highlight=False)
        return {"run_id": entry.run_id, "killed": [], "deleted_namespaces": [],
                "registry_entry": None}
    if say:
        for what in removed.processes:
            out.print(f"run {entry.run_id}: killed {what}", highlight=False)
        for name in removed.netns:
            out.print(f"run {entry.run_id}: deleted namespace {name}", highlight=False)
    if removed.left:
        raise TestbedError(f"run {entry.run_id}: could not delete namespaces {removed.left}")
    if say:
        out.print(f"run {entry.run_id}: removed registry entry {entry.path}", highlight=False)
    return {"run_id": entry.run_id, "killed": [str(p) for p in removed.processes],
            "deleted_namespaces": list(removed.netns), "registry_entry": str(entry.path)}


@app.command()
def clean(as_json: JsonOption = False) -> None:
    """Remove what killed runs left behind: exactly what their registry entries list.

    Live runs are left alone (use `testbed down`). Nothing is removed by name pattern.

    Example: testbed clean --json
    """
    entries = list_runs()
    dead = [e for e in entries if not e.owner_alive()]
    live = [e for e in entries if e not in dead]
    if not as_json:
        for entry in live:
            out.print(
                f"run {entry.run_id}: live (pid {entry.owner.pid}), left alone", highlight=False
            )
    cleaned = [_remove_leftovers(entry, say=not as_json) for entry in dead]
    if as_json:
        _print_json({"registry": str(registry_dir()), "cleaned": cleaned,
                     "live": [{"run_id": e.run_id, "pid": e.owner.pid} for e in live]})
    elif not dead:
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
    from testbed.analysis.account import analyze_capture
    from testbed.analysis.report import air_tables
    from testbed.analysis.timeline import load_timeline

    if events is not None:
        prefix, timeline = load_timeline(events)
        report = analyze_capture(capture, prefix=prefix, timeline=timeline)
    else:
        report = analyze_capture(capture)
    if as_json:
        _print_json(report.to_json())
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

    Example: testbed sniff --serial /dev/ttyACM0 --channel 26 --out air.pcap

    Example: testbed sniff --pcap wireshark.pcapng --count 20
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
    if written:
        err.print(_capture_totals_line(out_path), highlight=False, markup=False)


def _capture_totals_line(capture: Path) -> str:
    """What the capture holds, as capinfos would sum it for 802.15.4: the bulk path
    (analysis/totals.py), one pass with no per-frame objects, so it costs nothing even for a
    long capture; the figures are those tshark shows frame by frame."""
    from testbed.analysis.totals import capture_totals
    from testbed.errors import BadInput, FrameError

    try:
        t = capture_totals(capture)
    except (BadInput, FrameError) as exc:
        return f"totals: not counted ({exc})"
    return (f"totals: {t.frames} frames ({t.ack_frames} ACKs), {t.bytes:,} bytes PSDU; "
            f"TCP payload {t.tcp_payload:,} B, UDP payload {t.udp_payload:,} B")


# --- lab boards ---------------------------------------------------------------------------


@app.command()
def flash(
    lab: Annotated[Path, typer.Option(help="Lab YAML file (labs/desk.yaml, labs/qemu.yaml).",
                                      show_default=False)],
    boards: Annotated[Optional[list[str]], typer.Argument(
        help="Boards to flash (default: every MicroPython and Contiki board of the lab).",
        show_default=False)] = None,
    app_paths: Annotated[Optional[list[Path]], typer.Option(
        "--app", help="MicroPython boards: the app to deploy, a directory (its .py files) or "
        "files (repeat --app).", show_default=False)] = None,
    timeout: Annotated[float, typer.Option(
        min=1.0, help="Seconds a Contiki flasher command may take.")] = 300.0,
    logs: Annotated[Path, typer.Option(
        help="Where Contiki flashers' output goes (<board>.log).")] = Path("reports/flash"),
    wait: WaitOption = 30.0,
    as_json: JsonOption = False,
) -> None:
    """Put node firmware on the lab's boards, with a progress bar per board (bytes).

    MicroPython boards get the --app files over the raw REPL, each read back and checked;
    Contiki boards run the lab file's `flasher` argv with their `image`. A board with
    `emulator: qemu-microbit` boots in QEMU for the flash and keeps the files only while
    QEMU runs: it tries a deployment end to end. The boards are leased for the flash: one
    another run holds is waited for up to --wait s. Exit status 1 if a board failed (the
    others are still flashed), 2 for a bad lab file or arguments, 75 if a board stayed busy.

    Example: testbed flash --lab labs/desk.yaml mb1 mb2 --app nodes/coap-sensor

    Example: testbed flash --lab labs/qemu.yaml --app nodes/coap-sensor/coap.py --json
    """
    from testbed.backends.boards import board_missing, open_board
    from testbed.backends.flash import CommandFlasher, app_files, flasher_for
    from testbed.config.lab import BoardPlatform, load_lab
    from testbed.errors import BadInput

    the_lab = load_lab(lab)
    plan = []
    for board in _chosen_boards(the_lab, boards):
        flasher = flasher_for(board, the_lab, log_dir=logs,
                              timeout_s=timeout)
        if board.platform is BoardPlatform.MICROPYTHON:
            if not app_paths:
                raise BadInput(f"flash: board {board.name} runs MicroPython: give the app to "
                               "deploy with --app (e.g. --app nodes/coap-sensor)")
            image: Any = app_paths[0] if len(app_paths) == 1 else list(app_paths)
            app_files(image)  # checked before any board is touched
        else:
            image = the_lab.image_path(board)
            assert isinstance(flasher, CommandFlasher)
            flasher.check_image(image)
        plan.append((board, flasher, image))
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
        TextColumn("{task.fields[file]}"), TimeElapsedColumn(), console=err,
        disable=as_json or not err.is_terminal,  # bars are for a person at a terminal
    )
    done: list[dict[str, Any]] = []
    with _sigterm_interrupts(), _leased(the_lab, [p[0].name for p in plan], wait), progress:
        for board, flasher, image in plan:
            task = progress.add_task(board.name, total=None, file="")
            reason = board_missing(board)
            if reason:
                done.append({"board": board.name, "platform": str(board.platform), "ok": False,
                             "error": reason})
                progress.update(task, description=f"{board.name}: missing", total=1)
                continue

            def report(sent: int, total: int, name: str, task: Any = task) -> None:
                progress.update(task, completed=sent, total=total, file=name)

            try:
                with open_board(board) as port:
                    result = flasher.flash(image, port=port, progress=report)
            except BadInput:
                raise
            except TestbedError as exc:
                done.append({"board": board.name, "platform": str(board.platform), "ok": False,
                             "error": str(exc)})
                progress.update(task, description=f"{board.name}: failed")
                continue
            done.append({**result.to_json(), "ok": True,
                         "emulated": board.emulator is not None})
    if as_json:
        _print_json(done)
    else:
        out.print(_flash_table(the_lab.name, done))
    failures = [d for d in done if not d["ok"]]
    for failure in failures:
        err.print(f"testbed: {failure['error']}", highlight=False, markup=False)
    if failures:
        raise typer.Exit(1)


def _leased(lab: Any, boards: list[str], wait: float) -> Any:
    """The run's leases on `boards` (testbed/backends/leases.py), waiting up to `wait` s."""
    from testbed.backends.leases import lease_boards
    from testbed.experiment.run import new_run_id

    return lease_boards(lab, boards, run_id=new_run_id(), timeout_s=wait,
                        on_wait=lambda why: err.print(f"testbed: {why}", markup=False))


study_app = typer.Typer(help="Studies beyond the XMPP-vs-CoAP comparison, each a run "
                        "directory with results.json, report.html and summary.md.",
                        no_args_is_help=True)
app.add_typer(study_app, name="study")


def _numbers(text: str, kind: type, what: str) -> tuple[Any, ...]:
    try:
        return tuple(kind(x) for x in text.split(",") if x.strip())
    except ValueError as exc:
        raise BadInput(f"{what} {text!r}: expected comma-separated numbers") from exc


@study_app.command("mdns")
def study_mdns(
    sizes: Annotated[str, typer.Option("--sizes", help="Network sizes N, comma-separated.")
                     ] = "10,25,50,100",
    densities: Annotated[str, typer.Option(
        "--densities", help="clique (all hear all) and/or grid (4-neighbours).")] = "clique,grid",
    losses: Annotated[str, typer.Option("--losses", help="Frame loss per link, e.g. 0,0.1.")
                      ] = "0",
    mechanisms: Annotated[str, typer.Option(
        "--mechanisms", help="RFC 6762 mechanism sets: all, none, no-<mechanism> (probing, "
        "announcing, response_delay, known_answer, duplicate_answer, rate_limit, "
        "cache_refresh, goodbye).")] = "all,none",
    seeds: Annotated[str, typer.Option("--seeds", help="Seeds (radio and engines).")] = "1,2",
    transports: Annotated[str, typer.Option(
        "--transports", help="link (ff02::fb, one hop), mpl (ff05::fb forwarded by MPL, "
        "RFC 7731) and/or srp (no mDNS: registration with the border router's SRP "
        "registrar, RFC 9665, and unicast DNS-SD); mpl and srp on the grid only.")
    ] = "link,mpl,srp",
    contiki_sizes: Annotated[str, typer.Option(
        "--contiki-sizes", help="Sizes N run again on Contiki-NG nodes (nodes/contiki/"
        "mdns-node firmware processes, the C engine; link-local, the first seed); empty for "
        "none.")] = "50,100,200",
    duration: Annotated[float, typer.Option("--duration", min=11.0,
                                            help="Seconds each point runs.")] = 20.0,
    out_dir: OutOption = Path("reports"),
    as_json: JsonOption = False,
) -> None:
    """How mDNS/DNS-SD discovery traffic, time and collisions grow with the network, per RFC
    6762 mechanism: every point on its own emulated network, every node running the nodes'
    mDNS engine (the Python one; the C one of lib/mdns on Contiki nodes); the growth fitted
    as a power law of N.

    Example: testbed study mdns --sizes 10,25,50 --densities clique --mechanisms all,none
    """
    from testbed.experiment.study_mdns import parse_sets, run_study
    from testbed.report.study import read_study, render_study

    plan = dict(sizes=_numbers(sizes, int, "--sizes"),
                densities=tuple(d.strip() for d in densities.split(",") if d.strip()),
                losses=_numbers(losses, float, "--losses"), sets=parse_sets(mechanisms),
                seeds=_numbers(seeds, int, "--seeds"),
                transports=tuple(t.strip() for t in transports.split(",") if t.strip()),
                contiki_sizes=_numbers(contiki_sizes, int, "--contiki-sizes"))
    with _sigterm_interrupts():
        run_dir = run_study(**plan, duration_s=duration, out=out_dir, argv=["testbed", *_argv],
                            progress=None if as_json else lambda i, n, p: err.print(
                                f"[{i + 1}/{n}] {p.name}", highlight=False))
    try:
        report, summary = render_study(run_dir)
    except Exception as exc:  # noqa: BLE001 - what was measured stays; say where, one line
        raise TestbedError(f"the study's report was not rendered ({type(exc).__name__}: "
                           f"{exc}); its figures are in {run_dir / 'results.json'}") from exc
    study = read_study(run_dir)
    if as_json:
        _print_json({"run_directory": str(run_dir), "report": str(report), **study})
        return
    out.print(summary.read_text(), highlight=False, markup=False)
    out.print(f"report: {report}", highlight=False)
    failed = [n for n, p in study["points"].items() if "error" in p]
    if failed:
        raise TestbedError(f"{len(failed)} point(s) failed: {', '.join(failed)}")


@app.command()
def sweep(
    sizes: Annotated[str, typer.Option(help="Grid sizes N (nodes, border router included), "
                                            "comma-separated.")] = "5,25,50",
    variants: Annotated[Optional[str], typer.Option(
        help="Comma-separated variants (default: all that run on the platform).")] = None,
    readings: Annotated[int, typer.Option(min=1, help="Readings per sensor.")] = 5,
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between readings.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of every size's run.")] = 1,
    payload: Annotated[str, typer.Option(help="The readings' application format.")
                       ] = "senml-json",
    platform: Annotated[str, typer.Option(help="emulated or contiki nodes.")] = "emulated",
    out_dir: OutOption = Path("reports"),
    as_json: JsonOption = False,
) -> None:
    """The comparison on generated grids of growing size: delivery, bytes and energy per
    reading, set-up time and latency against N per variant, each fitted as a power law.

    Example: testbed sweep --sizes 5,25,50 --variants coap-observe-con,xmpp-message
    """
    from testbed.experiment.sweep import parse_sizes, run_sweep
    from testbed.experiment.variants import for_platform, parse_variants
    from testbed.report.sweep import read_sweep, render_sweep

    chosen, skipped = for_platform(parse_variants(variants), _parse_platforms(platform)[0],
                                   explicit=variants is not None)
    for line in skipped:
        err.print(f"testbed: {line}", highlight=False, markup=False)
    _check_payload(payload)
    plan = parse_sizes(sizes)
    ns.require_net_admin()
    with _sigterm_interrupts():
        directory = run_sweep(sizes=plan, variants=chosen, readings=readings, interval_s=interval,
                              seed=seed, payload=payload, platform=platform, out=out_dir,
                              on_point=None if as_json else lambda n, d: err.print(
                                  f"testbed: {n} nodes done: {d}", highlight=False))
    report, summary = render_sweep(directory)
    data = read_sweep(directory)
    if as_json:
        _print_json({"run_directory": str(directory), "report": str(report), **data})
    else:
        out.print(summary.read_text(), highlight=False, markup=False)
        out.print(f"report: {report}", highlight=False)
    failed = [f"{n}: {v}" for n, p in data["points"].items() for v in p.get("errors") or {}]
    if failed:
        raise TestbedError(f"{len(failed)} variant run(s) failed: {', '.join(failed)}")


lab_app = typer.Typer(help="A lab's boards: who holds which (board leases).",
                      no_args_is_help=True)
app.add_typer(lab_app, name="lab")
LabArgument = Annotated[Path, typer.Argument(help="Lab YAML file.", show_default=False)]


@lab_app.command("status")
def lab_status(lab: LabArgument, as_json: JsonOption = False) -> None:
    """Every board of LAB: free, or held by whom (user@host, pid, run id) until when.

    Example: testbed lab status labs/desk.yaml
    """
    from testbed.backends.leases import lab_status
    from testbed.config.lab import load_lab
    from testbed.leasetable import status_table

    the_lab = load_lab(lab)
    rows = lab_status(the_lab)
    if as_json:
        _print_json([row.to_json() for row in rows])
    else:
        out.print(status_table(the_lab, rows))


@lab_app.command("release")
def lab_release(lab: LabArgument, board: Annotated[str, typer.Argument(show_default=False)],
                force: Annotated[bool, typer.Option("--force", help="Required: the lease may "
                                                    "be another run's.")] = False) -> None:
    """Remove BOARD's lease, whoever holds it, and say whose it was (a stuck or foreign one).

    Example: testbed lab release labs/desk.yaml zoul1 --force
    """
    from testbed.backends.leases import release
    from testbed.config.lab import load_lab

    the_lab = load_lab(lab)
    if board not in the_lab.boards:
        raise BadInput(f"{lab}: no board {board!r}{did_you_mean(board, the_lab.boards)}")
    if not force:
        raise BadInput(f"lab release: board {board}'s lease may be a live run's: add --force")
    was = release(the_lab, board)
    whose = (was.lease.holder() if was.lease else was.detail) or "nobody: it was free"
    out.print(f"board {board} of lab {the_lab.name}: removed the lease of {whose}",
              markup=False, highlight=False)


def _chosen_boards(lab: Any, names: list[str] | None) -> list[Any]:
    """The boards to flash, in the order given; by default every flashable board."""
    from testbed.backends.flash import FLASHERS
    from testbed.errors import BadInput

    if not names:
        chosen = [b for b in lab.boards.values() if b.platform in FLASHERS]
        if not chosen:
            raise BadInput(f"{lab.source}: no MicroPython or Contiki board to flash")
        return chosen
    boards = []
    for name in names:
        if name not in lab.boards:
            from testbed.config.yamlmarks import did_you_mean

            raise BadInput(f"{lab.source}: no board {name!r}{did_you_mean(name, lab.boards)} "
                           f"(boards: {', '.join(lab.boards) or 'none'})")
        boards.append(lab.boards[name])
    return boards


def _flash_table(lab: str, done: list[dict[str, Any]]) -> Table:
    table = Table(title=f"flash — lab {lab}")
    for column in ("board", "platform", "port", "files", "bytes", "s", "result"):
        table.add_column(column, justify="right" if column in ("bytes", "s") else "left")
    for d in done:
        if d["ok"]:
            result = "verified" if d["verified"] else "flashed"
            if d.get("emulated"):
                result += " (emulated: gone with QEMU)"
            table.add_row(d["board"], d["platform"], d["port"], " ".join(d["files"]),
                          str(d["bytes"]), f"{d['seconds']:.1f}", result)
        else:
            table.add_row(d["board"], d["platform"], "-", "-", "-", "-", "failed", style="red")
    return table


@app.command()
def meter(
    trace: Annotated[Path, typer.Argument(help="A power meter's recording.",
                                          show_default=False)],
    kind: Annotated[str, typer.Option(
        "--format", help="serial-lines (`<t_s> <current_mA> <bus_V>`, what a lab run "
        "records), oml (FIT IoT-LAB consumption), ppk2-csv (nRF Power Profiler export), or "
        "auto: by the file's suffix (.oml, .csv, else serial-lines).")] = "auto",
    voltage: Annotated[Optional[float], typer.Option(
        "--voltage", min=0.0, help="Supply voltage for ppk2-csv (its rows hold current only).",
        show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Integrate a power meter's recording: energy, charge, mean current, span, samples, the
    gaps in it and every line skipped (with its line number and why).

    For measurements taken outside a run: a FIT IoT-LAB node's consumption file, a Power
    Profiler export, a serial meter's log. A lab run's own meters are integrated into its
    results.json (energy.measured) already.

    Example: testbed meter ~/.iot-lab/12345/consumption/m3_7.oml

    Example: testbed meter ppk2.csv --voltage 3.0 --json
    """
    from testbed.energy.meters import integrate, parse_oml, parse_ppk2_csv, parse_serial_lines
    from testbed.errors import BadInput

    parsers = {"serial-lines": parse_serial_lines, "oml": parse_oml,
               "ppk2-csv": lambda text: parse_ppk2_csv(text, voltage_v=voltage or 0.0)}
    if kind == "auto":
        kind = {".oml": "oml", ".csv": "ppk2-csv"}.get(trace.suffix.lower(), "serial-lines")
    if kind not in parsers:
        raise BadInput(f"meter: --format {kind}: expected {', '.join(parsers)} or auto")
    if kind == "ppk2-csv" and voltage is None:
        raise BadInput(f"meter: {trace}: a Power Profiler export holds current only: give "
                       "--voltage (the supply the PPK2 was set to)")
    try:
        text = trace.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise BadInput(f"meter: {trace}: cannot read ({exc.strerror})") from exc
    try:
        recording = parsers[kind](text)
    except BadInput as exc:
        raise BadInput(f"meter: {trace}: {exc}") from exc
    if len(recording.samples) < 2:
        first = recording.skipped[0] if recording.skipped else None
        why = f"; line {first.line}: {first.reason}" if first else ""
        raise BadInput(f"meter: {trace}: {len(recording.samples)} good samples as {kind}, "
                       f"need 2 to integrate{why}")
    integral = integrate(recording.samples)
    figures = {
        "file": str(trace), "format": kind, "joules": integral.energy_j,
        "charge_c": integral.charge_c, "mean_mA": integral.mean_current_a * 1000,
        "duration_s": integral.duration_s, "samples": integral.samples,
        "period_s": integral.period_s,
        "gaps": [{"start_s": g.start_s, "duration_s": g.duration_s} for g in integral.gaps],
        "skipped": [{"line": k.line, "why": k.reason} for k in recording.skipped],
    }
    if as_json:
        _print_json(figures)
        return
    out.print(f"{trace} ({kind}): {integral.energy_j * 1000:.3f} mJ over "
              f"{integral.duration_s:.3f} s, mean {integral.mean_current_a * 1000:.3f} mA, "
              f"{integral.samples} samples every {(integral.period_s or 0) * 1e6:.0f} µs",
              highlight=False, markup=False)
    for gap in integral.gaps:
        out.print(f"gap: {gap.duration_s:.6f} s at t={gap.start_s:.6f} s (integrated linearly)",
                  highlight=False, markup=False)
    for skipped in recording.skipped[:10]:
        out.print(f"skipped line {skipped.line}: {skipped.reason}", highlight=False,
                  markup=False)
    if len(recording.skipped) > 10:
        out.print(f"... {len(recording.skipped) - 10} more lines skipped", highlight=False)


# --- reports and the machine ------------------------------------------------------------------


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (with results.json).",
                                            show_default=False)],
    run_dir_b: Annotated[Optional[Path], typer.Argument(
        help="A second run directory: show what changed from RUN_DIR to it.",
        show_default=False)] = None,
    out_path: Annotated[Optional[Path], typer.Option(
        "--out", help="Where delta.html goes (default: the second run directory).",
        show_default=False)] = None,
    screenshot: Annotated[Optional[Path], typer.Option(
        help="Also save a PNG of the page, taken by headless Chromium.",
        show_default=False)] = None,
    readme: Annotated[Optional[Path], typer.Option(
        help="Also put the run's verdict and table into this README's figures block "
             "(and its results.json into docs/figures/ beside it).",
        show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-render RUN_DIR's report.html and summary.md from its results.json and show the
    verdict table; with a second run, show the deltas and write delta.html.
    Exit status 1 (after the table, one line per failure) if a variant of a run failed.

    Example: testbed report reports/20261126-075052-18d80a

    Example: testbed report reports/<run-a> reports/<run-b> --out /tmp/delta --json
    """
    from testbed.experiment.results import RESULTS_FILE, read_results
    from testbed.report import (
        compare_runs, delta_table, render_report, verdict_table, write_delta_report,
    )

    if run_dir_b is not None:
        delta = compare_runs(run_dir, run_dir_b)
        page = Path(write_delta_report(delta, out_path or run_dir_b))
        shot = _screenshot(page, screenshot)
        if as_json:
            _print_json({"a": str(run_dir), "b": str(run_dir_b), "report": str(page),
                         "screenshot": None if shot is None else str(shot),
                         "delta": delta.to_json()})
        else:
            out.print(delta_table(delta))
            out.print(f"delta report: {page}", highlight=False)
            if shot is not None:
                out.print(f"screenshot: {shot}", highlight=False)
        failed = [_say_failed_variants(read_results(d), run=str(d)) for d in (run_dir, run_dir_b)]
        if any(failed):  # a delta against a failed variant is no comparison: say so, status 1
            raise typer.Exit(1)
        return
    if out_path is not None:
        from testbed.errors import BadInput

        raise BadInput("report: --out is for the delta report of two runs; one run's "
                       "report is written into its own directory")
    from testbed.report.rundir import run_directory

    run_dir = run_directory(run_dir)  # RUN or RUN/results.json
    results = read_results(run_dir)
    files = render_report(run_dir)
    shot = _screenshot(Path(files.html), screenshot)
    if readme is not None:
        from testbed.report.readme import write_readme_figures

        kept = write_readme_figures(run_dir, readme)
        if not as_json:
            out.print(f"README figures: {readme} (from {kept})", highlight=False)
    if as_json:
        _print_json({"run_directory": str(run_dir), "report": str(files.html),
                     "summary": str(files.markdown),
                     "screenshot": None if shot is None else str(shot),
                     "content": json.loads((run_dir / RESULTS_FILE).read_text())})
    else:
        out.print(verdict_table(results))
        out.print(f"report: {files.html}\nsummary: {files.markdown}", highlight=False)
        if shot is not None:
            out.print(f"screenshot: {shot}", highlight=False)
    if _say_failed_variants(results):  # as `compare` ends: the failures, then status 1
        raise typer.Exit(1)


def _screenshot(page: Path, png: Path | None) -> Path | None:
    if png is None:
        return None
    from testbed.report.screenshot import screenshot

    screenshot(page, png)
    return png


@app.command()
def doctor(as_json: JsonOption = False) -> None:
    """Check what the testbed needs on this machine (Debian packages, privileges, QEMU,
    prosody, tshark, serial ports) and say exactly what to install.

    Exit status 1 when a required check failed, 0 otherwise (optional ones only warn).

    Example: testbed doctor --json
    """
    from testbed.doctor import diagnose

    diagnosis = diagnose()
    failed = any(c.required and not c.ok for c in diagnosis.checks)
    if as_json:
        _print_json(diagnosis.to_json())
    else:
        table = Table(title="testbed doctor")
        fixes = any(check.fix for check in diagnosis.checks)
        for column in ("", "check", "detail", "fix")[:4 if fixes else 3]:
            table.add_column(column)
        for check in diagnosis.checks:
            mark = "[green]✓[/]" if check.ok else ("[red]✗[/]" if check.required
                                                  else "[yellow]✗[/]")
            name = check.name if check.required else f"{check.name} (optional)"
            cells = [mark, _plain(name), _plain(check.detail)]
            table.add_row(*cells, *([_plain(check.fix or "")] if fixes else []))
        out.print(table)
        if diagnosis.missing_packages:
            out.print(f"install them with: sudo apt-get install "
                      f"{' '.join(diagnosis.missing_packages)}", highlight=False, markup=False)
    if failed:
        raise typer.Exit(1)


def _plain(text: str) -> Any:
    """A table cell shown as written (a detail may hold brackets rich would take as markup)."""
    from rich.text import Text

    return Text(text)


def _reflow(doc: str | None) -> str | None:
    """Join the lines of each docstring paragraph: typer's rich help keeps single line breaks,
    which the terminal's own wrapping would then break again mid-sentence."""
    if not doc:
        return doc
    import inspect

    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


for _command in [*app.registered_commands, *lab_app.registered_commands]:
    if _command.callback is not None:
        _command.callback.__doc__ = _reflow(_command.callback.__doc__)


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
