"""`testbed compare` end to end: every variant on the default topology, a lossy link, Ctrl-C.

The oracles are independent of the runner: tshark counts the frames and bytes in each
variant's capture, the kernel says which namespaces and processes are left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.config.topology import parse_topology
from testbed.experiment.results import Results, read_results
from testbed.experiment.scenario import run_comparison
from testbed.experiment.variants import Variant

from .conftest import TOPOLOGIES
from .tshark import check_capture, fields

ROOT = Path(__file__).resolve().parents[2]
pytest_plugins = ["pytester"]
needs_root = pytest.mark.skipif(not netns.has_net_admin(), reason="needs CAP_NET_ADMIN (root)")

LOSSY = """\
name: lossy
nodes:
  br: {role: border-router}
  s1: {role: sensor}
  r1: {role: router}
  s2: {role: sensor}
links:
  - [br, s1, {prr: 0.8}]
  - [br, r1]
  - [r1, s2, {prr: 0.8}]
"""


@pytest.fixture(scope="module")
def default_run(default_comparison: tuple[Path, Results]) -> tuple[Path, Results]:
    """Every variant on topologies/default.yaml, 3 or more readings per sensor (tests/conftest.py)."""
    return default_comparison


@pytest.mark.slow
@pytest.mark.parametrize("variant", [v for v in Variant if v.reliable], ids=str)
def test_every_con_and_xmpp_variant_delivers_every_reading(
    default_run: tuple[Path, Results], variant: Variant
) -> None:
    run_dir, results = default_run
    result = results.variants[str(variant)]
    assert result.error is None, result.error
    assert result.readings.sent == results.readings * 3  # three sensors in default.yaml
    assert result.readings.delivered == result.readings.sent, json.dumps(
        results.to_json()["variants"][str(variant)])
    if variant.protocol == "xmpp":
        assert result.phases.setup_ms.p50 is not None and result.phases.setup_ms.p50 > 0


@pytest.mark.slow
def test_the_energy_column_follows_the_protocols_radio_time(
    default_run: tuple[Path, Results]
) -> None:
    """mJ/reading (energy.per_reading_mj.protocol) ranks a CoAP and an XMPP variant the way
    their sensors' radio time per reading (TX + RX seconds from the medium's log) does, and
    on this topology every XMPP variant costs more than every CoAP one."""
    _, results = default_run

    def radio_s(name: str) -> float:
        v = results.variants[name]
        sensors = [n for n, f in v.energy["nodes"].items() if f["role"] == "sensor"]
        return sum(v.energy["nodes"][n]["tx_s"] + v.energy["nodes"][n]["rx_s"]
                   for n in sensors) / v.readings.delivered

    mj = {str(v): results.variants[str(v)].energy["per_reading_mj"]["protocol"] for v in Variant}
    for x in (v for v in Variant if v.protocol == "xmpp"):
        for c in (v for v in Variant if v.protocol == "coap"):
            assert mj[str(x)] > mj[str(c)], (x, c, mj)
            assert radio_s(str(x)) > radio_s(str(c)), (x, c)


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(Variant), ids=str)
def test_every_delivered_reading_is_the_one_its_node_made(
    default_run: tuple[Path, Results], variant: Variant
) -> None:
    """Value and node of each delivery against nodes/common/reading.py (experiment/truth.py),
    through either sink and its payload decoder: a decoder that mangled a value would count."""
    _, results = default_run
    readings = results.variants[str(variant)].readings
    assert readings.delivered > 0 and readings.mismatched == 0, readings


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(Variant), ids=str)
def test_air_figures_equal_what_tshark_counts(default_run: tuple[Path, Results],
                                              variant: Variant) -> None:
    run_dir, results = default_run
    result = results.variants[str(variant)]
    assert result.capture == f"{variant}/capture.pcap"
    capture = run_dir / result.capture
    lengths = [int(row[0]) for row in fields(capture, "frame.len")]
    assert (result.air.frames, result.air.bytes) == (len(lengths), sum(lengths))
    counts = check_capture(capture)  # <= 127 bytes, no malformed frame, all data is 6LoWPAN
    assert result.air.ack_frames == counts["acks"]


@pytest.mark.slow
def test_results_json_is_in_the_run_directory_with_each_variants_files(
    default_run: tuple[Path, Results],
) -> None:
    run_dir, results = default_run
    assert list(results.variants) == [str(v) for v in Variant]
    assert results.interval_s == 0.5 and results.interrupted is None
    assert all(v.readings.expected == results.readings * 3 for v in results.variants.values())
    for v in Variant:
        for name in ("capture.pcap", "radio.csv", "medium.json", "deliveries.jsonl",
                     "logs/s1.jsonl", "logs/medium.log"):
            assert (run_dir / str(v) / name).is_file(), f"{v}/{name}"
    for v in (v for v in Variant if v.protocol == "xmpp"):
        kept = {p.name for p in (run_dir / str(v) / "prosody").iterdir()}
        assert {"prosody.cfg.lua", "prosody.log"} <= kept and "data" not in kept, kept
    # no password in the run directory: not the nodes' CONFIG.json, not prosody's store
    assert not [p for p in run_dir.rglob("*") if p.name in ("CONFIG.json", "accounts")]
    for p in run_dir.rglob("*"):
        if p.is_file() and p.suffix != ".pcap":
            assert '"password"' not in p.read_text(errors="replace"), p


@pytest.mark.slow
@needs_root
def test_on_a_lossy_link_reliable_variants_deliver_all_and_non_loss_is_reported(
    tmp_path: Path, record_property
) -> None:
    # one of each kind: CON retransmission, NON loss, TCP (GET and pubsub cross default.yaml's
    # lossy link in the suites' comparison, suites/test_sensor_readings.py)
    variants = (Variant.COAP_OBSERVE_CON, Variant.COAP_OBSERVE_NON, Variant.XMPP_MESSAGE)
    run_dir = run_comparison(parse_topology(LOSSY), variants=variants, readings=5,
                             interval_s=0.5, seed=3, out=tmp_path)
    results = read_results(run_dir)
    for v in variants:
        r = results.variants[str(v)]
        assert r.error is None, f"{v}: {r.error}"
        assert r.readings.sent >= 10
        record_property(f"{v}.delivered", f"{r.readings.delivered}/{r.readings.sent}")
        if v.reliable:
            assert r.readings.delivered == r.readings.sent, f"{v}: {r.readings}"
        else:  # reported, not hidden: the counts add up
            assert r.readings.lost == r.readings.sent - r.readings.delivered
    raw = json.loads((run_dir / "results.json").read_text())
    assert "lost" in raw["variants"]["coap-observe-non"]["readings"]


def _descendants(pid: int) -> dict[int, bytes]:
    """Every process below `pid`, with its /proc stat start time (a recycled pid is not it)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, bytes] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        fields_ = stat[stat.rindex(b")") + 2:].split()
        children.setdefault(int(fields_[1]), []).append(int(entry))
        starts[int(entry)] = fields_[19]
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = starts[child]
            todo.append(child)
    return found


def _alive(pid: int, start: bytes) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:].split()[19] == start


@pytest.mark.slow
@needs_root
def test_sigint_mid_variant_leaves_nothing_and_keeps_finished_variants(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "testbed.cli", "compare",
            "--topology", str(TOPOLOGIES / "default.yaml"),
            "--variants", "coap-observe-con,xmpp-pubsub,coap-get",
            "--readings", "10", "--interval", "0.3", "--out", str(tmp_path)]
    # the first variant is short; the second's 10 x 0.3 s of readings leave time to interrupt
    # it once s3 sent its first
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        run_dir = None
        while time.monotonic() < deadline:  # wait for the second variant's readings
            runs = list(tmp_path.glob("*/xmpp-pubsub/logs/s3.jsonl"))
            if runs and '"reading"' in runs[0].read_text():
                run_dir = runs[0].parents[2]
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        assert run_dir is not None, "the second variant never started sending readings"
        running = _descendants(proc.pid)
        cmdlines = b" ".join(Path(f"/proc/{p}/cmdline").read_bytes() for p in running
                             if Path(f"/proc/{p}/cmdline").exists())
        assert b"prosody" in cmdlines and b"xmpp-sensor" in cmdlines  # mid-variant indeed
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in err
    run_id = run_dir.name.rsplit("-", 1)[1]
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"tb-{run_id}-" not in namespaces
    left = [pid for pid, start in running.items() if _alive(pid, start)]
    assert not left, [Path(f"/proc/{p}/cmdline").read_bytes() for p in left]
    assert not Path(f"/run/testbed/{run_id}.json").exists()
    results = read_results(run_dir)
    assert list(results.variants) == ["coap-observe-con"] and results.interrupted == "xmpp-pubsub"
    finished = results.variants["coap-observe-con"]
    assert finished.error is None and finished.readings.sent == 30 and finished.air.frames > 0
    assert b"coap-observe-con" in out and str(run_dir).encode() in out


def test_the_variant_parametrisation_follows_the_option_and_the_marker(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_all(variant):
            pass

        @pytest.mark.variant("xmpp-iq", "coap-get")
        def test_some(variant):
            pass
        """
    )
    result = pytester.runpytest_subprocess("--collect-only", "-q",
                                           "--variants", "coap-get,xmpp-message,xmpp-iq")
    result.stdout.fnmatch_lines([
        "*test_all[[]coap-get[]]", "*test_all[[]xmpp-message[]]", "*test_all[[]xmpp-iq[]]",
        "*test_some[[]coap-get[]]", "*test_some[[]xmpp-iq[]]",
    ])
    assert "test_some[xmpp-message]" not in result.stdout.str()
    bad = pytester.runpytest_subprocess("--variants", "coap-gett")
    assert bad.ret != 0
    bad.stderr.fnmatch_lines(["*unknown variant 'coap-gett'; did you mean 'coap-get'?*"])


def test_cli_bad_variants_or_topology_exit_2_with_one_line(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    from testbed.cli import main

    assert main(["compare", "--variants", "xmpp-mesage"]) == 2
    assert "did you mean 'xmpp-message'?" in capsys.readouterr().err
    (tmp_path / "t.yaml").write_text("name: t\nnodes:\n  br: {role: border-routr}\n")
    assert main(["compare", "--topology", str(tmp_path / "t.yaml")]) == 2
    err = capsys.readouterr().err
    assert "t.yaml:3" in err and "Traceback" not in err
