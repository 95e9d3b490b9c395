"""xmpp-serverless on the default topology (issue 09): no server at first, every reading goes
over XEP-0174 to the collector on the border router, s3 from two hops away (it finds the
collector through the border router's discovery proxy); prosody starts mid-run and every
sensor moves to it. Checked against the collector's and the sink's own records, the nodes'
events and tshark's reading of the capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.experiment.results import Results
from testbed.experiment.variants import Variant
from testbed.services.deliveries import read_deliveries

from .tshark import fields

VARIANT = str(Variant.XMPP_SERVERLESS)


@pytest.mark.slow
def test_serverless_then_server_every_reading_arrives(
        default_comparison: tuple[Path, Results]) -> None:
    run_dir, results = default_comparison
    result = results.variants[VARIANT]
    assert result.error is None, result.error
    assert result.readings.delivered == result.readings.expected == results.readings * 3
    deliveries = read_deliveries(run_dir / VARIANT / "deliveries.jsonl")
    over_link = {(d.node, d.seq) for d in deliveries if d.via == "xep-0174"}
    assert {node for node, _ in over_link} == {"s1", "s2", "s3"}  # s3: two hops, via r1
    phases = result.discovery["phases"]
    assert phases["serverless"]["delivered"] + phases["server"]["delivered"] == \
        result.readings.delivered
    assert phases["serverless"]["delivered"] == len(over_link)
    assert result.discovery["moves_to_server"] == 3
    assert result.discovery["found"] == {"peer": 3}


@pytest.mark.slow
def test_discovery_bytes_are_the_mdns_and_dns_datagrams_tshark_sees(
        default_comparison: tuple[Path, Results]) -> None:
    """The discovery section's air figures against tshark: every frame carrying an mDNS or
    DNS datagram, or a fragment of one (6LoWPAN reassembly is tshark's own)."""
    run_dir, results = default_comparison
    air = results.variants[VARIANT].discovery["air"]
    capture = run_dir / VARIANT / "capture.pcap"
    rows = fields(capture, "frame.len", display_filter="mdns || dns")
    # tshark shows a fragmented datagram once, on its last fragment; the analysis counts
    # every frame: at least one per datagram, at most four (no discovery datagram is larger
    # than 4 x 127 bytes)
    assert len(rows) <= air["frames"] <= 4 * len(rows)
    assert air["bytes"] >= sum(int(r[0]) for r in rows) > 0
    assert air["by_purpose"]["mdns"]["frames"] > 0 and air["by_purpose"]["dns"]["frames"] > 0
