"""A PAN of Contiki-NG firmware end to end: the comparison, libcoap against a Contiki sensor.

Every node is Contiki-NG 5.0 built for the medium platform: Contiki's CSMA, sicslowpan, RPL-lite
and uIP make every byte; its border router (rpl-border-router over SLIP) bridges to the cloud.
The oracles are independent of the testbed: tshark dissects the captures, libcoap's coap-client
asks the sensor, prosody and slixmpp (the XMPP sink) take the XMPP sensor's readings.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.experiment.nodes import firmware_env, read_events
from testbed.experiment.results import Results
from testbed.experiment.variants import Variant

from .conftest import CONTIKI_READINGS as READINGS
from .conftest import CONTIKI_VARIANTS as VARIANTS
from .conftest import default_without_loss
from .tshark import check_capture, fields

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not netns.has_net_admin(), reason="needs CAP_NET_ADMIN (root)")]


@pytest.fixture(scope="module")
def contiki_run(contiki_comparison: tuple[Path, Results], contiki_as_is: tuple[Path, Results]
                ) -> dict[Variant, tuple[Path, Results]]:
    """Per variant its run (conftest.py): coap-observe-con on default.yaml with the lossy link
    made clean (shared with the lab test), xmpp-message on default.yaml as it is."""
    return {Variant.COAP_OBSERVE_CON: contiki_comparison, Variant.XMPP_MESSAGE: contiki_as_is}


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_every_reading_of_the_contiki_sensors_is_delivered(contiki_run, variant: Variant) -> None:
    run_dir, results = contiki_run[variant]
    result = results.variants[str(variant)]
    assert result.error is None, result.error
    assert result.readings.sent == READINGS * 3  # three sensors in topologies/default.yaml
    assert result.readings.delivered == result.readings.sent
    assert result.readings.mismatched == 0  # reading.c's values are reading.py's
    assert results.platform == "contiki"
    assert json.loads((run_dir / "run.json").read_text())["platform"] == "contiki"


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_tshark_decodes_every_contiki_frame_and_they_carry_eui64_addresses(
    contiki_run, variant: Variant
) -> None:
    run_dir, _ = contiki_run[variant]
    capture = run_dir / str(variant) / "capture.pcap"
    counts = check_capture(capture)  # no malformed frame, <= 127 bytes, data frames are 6LoWPAN
    assert counts["data"] > 0 and counts["acks"] > 0
    # Contiki-NG's link-layer addresses are EUI-64s (LINKADDR_SIZE 8): every data frame names
    # its source by its extended address 02:00:00:ff:fe:00:HH:LL, never by a short one
    rows = fields(capture, "wpan.src64", "wpan.src16", display_filter="wpan.frame_type == 1")
    assert rows and all(src64.startswith("02:00:00:ff:fe:00:") and not src16
                        for src64, src16 in rows)
    rpl = fields(capture, "icmpv6.code", display_filter="icmpv6.type == 155")
    assert {"1", "2"} <= {code for (code,) in rpl}  # RPL DIO and DAO: Contiki's own routing


def test_the_contiki_sensors_tcp_is_uips(contiki_run) -> None:
    """uIP sends one TCP option, the MSS in its SYN; Linux adds window scaling, SACK-permitted
    and a timestamp on every segment (RFC 7323), which a Contiki node never sends."""
    run_dir, _ = contiki_run[Variant.XMPP_MESSAGE]
    capture = run_dir / str(Variant.XMPP_MESSAGE) / "capture.pcap"
    sensors = "ipv6.src != fd01::1"  # from the PAN toward prosody in the cloud
    syns = fields(capture, "tcp.options.mss_val", "tcp.options.wscale.shift",
                  "tcp.options.sack_perm", display_filter=f"{sensors} && tcp.flags.syn == 1")
    assert len(syns) >= 3  # one connection per sensor at least
    assert all(mss and not wscale and not sack for mss, wscale, sack in syns)
    stamped = fields(capture, "frame.number", display_filter=f"{sensors} && tcp.options.timestamp.tsval")
    assert stamped == []


def test_libcoap_gets_answers_and_notifications_from_a_contiki_sensor_two_hops_away(
    network, tmp_path: Path
) -> None:
    with network(default_without_loss()) as net:
        assert net.route_tree.hops["s3"] == 2
        config = {"name": "s3", "readings": 100, "interval_s": 0.5, "sensors": ["temperature"],
                  "seed": 1, "observe": "con", "format": "text"}
        node = net.start_firmware("s3", "coap-sensor", firmware_env(config))
        deadline = time.monotonic() + 60
        while not any(e.kind == "ready" for e in read_events(node.events)):
            assert node.alive() and time.monotonic() < deadline, "s3 never joined the DODAG"
            time.sleep(0.2)
        uri = f"coap://[{net.address('s3')}]/sensors/temperature"
        got = net.exec("cloud", ["coap-client-notls", "-m", "get", "-B", "20", uri],
                       capture_output=True, text=True, timeout=60)
        assert got.stdout.strip().startswith("seq=0 t="), got.stdout + got.stderr
        observed = net.exec("cloud", ["coap-client-notls", "-m", "get", "-s", "3", "-B", "20", uri],
                            capture_output=True, text=True, timeout=60)
        # coap-client prints each payload as it comes, with no separator: the registration's
        # answer (the current state, seq 0), then one notification per new reading
        seqs = [int(seq) for seq in re.findall(r"seq=(\d+) t=", observed.stdout)]
        assert seqs[0] == 0 and len(seqs) >= 4, observed.stdout
        assert seqs[1:] == list(range(seqs[1], seqs[1] + len(seqs) - 1)), observed.stdout
        node.stop()
