"""Acceptance (issue 04, energy): each node's tx_s in results.json is the air time of the frames
it sent, recomputed from the capture alone: Σ (PSDU + 6) x 32 µs over its data frames (source
address) and its ACKs (an ACK has no address: it is sent by the destination of the data frame
with the same sequence number that ended just before it). Within 1 %."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.capture.pcapfile import read_frames
from testbed.config.topology import Topology, load_topology
from testbed.experiment.results import Results, read_results
from testbed.experiment.scenario import run_comparison
from testbed.experiment.variants import Variant
from testbed.lowpan.mac import FrameType, decode

TOPOLOGY = Path(__file__).resolve().parents[2] / "topologies" / "default.yaml"
VARIANTS = (Variant("coap-observe-con"), Variant("xmpp-message"))
BYTE_S = 32e-6
TURNAROUND_S = 192e-6     # aTurnaroundTime, 12 symbols
STAMP_TOLERANCE_S = 3e-6  # pcap microsecond timestamps of both frames


@pytest.fixture(scope="module")
def energy_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Results, Topology]:
    if not netns.has_net_admin():
        pytest.skip("needs CAP_NET_ADMIN: run as root (sudo make test)")
    topology = load_topology(TOPOLOGY)
    run_dir = run_comparison(topology, variants=VARIANTS, readings=2, interval_s=0.5,
                             out=tmp_path_factory.mktemp("energy-compare"))
    return run_dir, read_results(run_dir), topology


def tx_s_from_capture(capture: Path, topology: Topology) -> dict[str, float]:
    names = {topology.short_address(n): n for n in topology.nodes}
    sent: dict[str, float] = defaultdict(float)
    awaiting: dict[int, list[tuple[float, int]]] = defaultdict(list)  # seq -> (end, dst)
    for frame in sorted(read_frames(capture), key=lambda f: f.time):
        airtime = (len(frame.psdu) + 6) * BYTE_S
        mac = decode(frame.psdu)
        if mac.frame_type == FrameType.ACK:
            # the ACK starts aTurnaroundTime after its data frame ends (pcap: µs stamps)
            (dst,) = {d for end, d in awaiting[mac.seq]
                      if abs(frame.time - end - TURNAROUND_S) <= STAMP_TOLERANCE_S}
            sent[names[dst]] += airtime
        else:
            sent[names[mac.src]] += airtime
            if mac.ack_request:
                awaiting[mac.seq].append((frame.time + airtime, mac.dst))
    return dict(sent)


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_tx_s_matches_the_capture(energy_run: tuple[Path, Results, Topology],
                                  variant: Variant) -> None:
    run_dir, results, topology = energy_run
    result = results.variants[str(variant)]
    assert result.error is None, result.error
    from_capture = tx_s_from_capture(run_dir / str(variant) / "capture.pcap", topology)
    assert set(from_capture) <= set(result.nodes)
    for node, figures in result.nodes.items():
        assert figures.tx_s == pytest.approx(from_capture.get(node, 0.0), rel=0.01), node


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_energy_is_state_time_x_current_x_voltage(energy_run: tuple[Path, Results, Topology],
                                                   variant: Variant) -> None:
    _run_dir, results, _topology = energy_run
    energy = results.variants[str(variant)].energy
    current, volts = energy["profile"]["current_ma"], energy["profile"]["voltage_v"]
    s1 = energy["nodes"]["s1"]
    by_hand = sum(s1[f"{s}_s"] * current[s] * volts for s in ("tx", "rx", "listen", "sleep"))
    assert s1["energy_mj"]["total"] == pytest.approx(by_hand, rel=1e-4)
    assert results.variants[str(variant)].nodes["s1"].energy_mj == s1["energy_mj"]["total"]
    assert s1["tx_s"] + s1["rx_s"] + s1["listen_s"] + s1["sleep_s"] == \
        pytest.approx(energy["span_s"], rel=1e-6)
    assert energy["per_reading_mj"]["sensors"] > 0
    assert energy["other_modes"]["contikimac"]["per_reading_mj"]["sensors"] > 0
