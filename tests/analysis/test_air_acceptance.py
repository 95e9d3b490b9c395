"""Acceptance (issue 03): for every variant of a comparison, every byte is accounted for once.

by_layer adds up to air.bytes plus the PHY overhead (6 bytes a frame), and per-reading bytes x
readings + set-up + overhead = the total on air, in results.json as written by the runner;
readings are counted in every variant, over STARTTLS too (by time, per_reading.method).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testbed.experiment.results import Results
from testbed.experiment.variants import Variant


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(Variant), ids=str)
def test_every_byte_once(comparison: tuple[Path, Results], variant: Variant) -> None:
    run_dir, results = comparison
    result = results.variants[str(variant)]
    assert result.error is None, result.error
    air = json.loads((run_dir / "results.json").read_text())["variants"][str(variant)]["air"]
    assert {"frames", "bytes", "ack_frames", "fragments", "by_layer", "by_purpose",
            "per_reading", "setup", "overhead", "fragmentation", "retransmissions"} <= set(air)
    total = air["bytes"] + 6 * air["frames"]
    assert air["total_bytes"] == total
    assert sum(air["by_layer"].values()) == total
    assert air["by_layer"]["phy"] == 6 * air["frames"]
    assert sum(p["bytes"] for p in air["by_purpose"].values()) == total
    pr = air["per_reading"]
    assert pr["bytes"] * pr["readings"] + air["setup"]["bytes"] + air["overhead"]["bytes"] == \
        pytest.approx(total, abs=1e-6)
    assert pr["frames_total"] + air["setup"]["frames"] + air["overhead"]["frames"] == air["frames"]
    # STARTTLS hides the stanzas: the runner's readings timeline attributes records by time
    assert pr["method"] == ("time" if variant.tls else "seq")
    assert result.readings.delivered <= pr["readings"] <= result.readings.sent
    assert pr["readings"] > 0 and pr["bytes"] > 0
    if variant.protocol == "xmpp" or "observe" in str(variant):  # session / Observe registration
        assert air["setup"]["bytes"] > 0
