"""The verdict figures are picked and divided right from results.json (runs.py's table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.experiment.results import read_results
from testbed.report.model import (
    DELTA_FIGURES, HEADLINE_UNITS, app_of, headline_figures, heap_figures, memory_lines,
    protocol_of, table_caption, variant_figures,
)
from tests.report.runs import MEMORY, coap


def test_figures_of_the_synthetic_run(synthetic_run: Path) -> None:
    coap, xmpp = variant_figures(read_results(synthetic_run))
    assert (coap.name, coap.protocol, coap.app) == ("coap-observe-non", "coap", "coap-sensor")
    assert (xmpp.name, xmpp.protocol, xmpp.app) == ("xmpp-message", "xmpp", "xmpp-sensor")
    assert coap.psdu_bytes == 2000 and xmpp.psdu_bytes == 12000  # without the PHY
    assert coap.all_in_bytes_per_reading == 2240 / 8  # air.total_bytes: PHY included
    assert xmpp.all_in_bytes_per_reading == 13200 / 8
    assert (coap.steady_bytes_per_reading, coap.frames_per_reading) == (150.0, 3.0)
    assert (xmpp.setup_bytes, xmpp.setup_ms_p50) == (6000, 250.0)
    assert (coap.energy_mj_per_reading, coap.lifetime_days) == (20.0, 5.5)  # min over sensors
    assert (xmpp.energy_mj_per_reading, xmpp.lifetime_days) == (25.0, 4.0)
    assert (coap.bytecode_bytes, xmpp.bytecode_bytes) == (9000, 14000)
    assert coap.heap.fits and coap.heap.used == 7000 and coap.heap.verdict == "fits 7,000/10,000 B"
    assert xmpp.heap.fits is False and xmpp.heap.verdict == "MemoryError"
    assert coap.status == xmpp.status == "ok"


def test_figures_of_the_real_sample(sample_run: Path) -> None:
    figures = {f.name: f for f in variant_figures(read_results(sample_run))}
    assert len(figures) == 7
    tls = figures["xmpp-message-tls"]
    assert tls.psdu_bytes == 54735 and tls.frames == 999 and tls.setup_bytes == 43033
    assert tls.all_in_bytes_per_reading == pytest.approx(60729 / 12)  # total_bytes
    assert tls.lifetime_days == 5.589


def test_heap_figures_find_the_memory_error() -> None:
    heap = heap_figures({"platform": "p", "heap_total": 10048, "before": 304,
                         "after_import_module": {"senml": 2800}, "fits": False,
                         "error": "compile+import coap: MemoryError: memory allocation failed, "
                                  "allocating 2176 bytes"})
    assert (heap.used, heap.failed_step, heap.failed_alloc) == (2800, "compile+import coap", 2176)
    not_measured = heap_figures({"platform": None, "fits": None, "error": "memory: no board"})
    assert not_measured.verdict == "-" and not_measured.total is None
    assert heap_figures(None).fits is None


# the parameter is `name`, not `variant`: the testbed's pytest plugin takes a parameter
# called `variant` to be a protocol variant, and these names are deliberately not all one
@pytest.mark.parametrize(("name", "protocol", "app"), [
    ("coap-get", "coap", "coap-sensor"), ("xmpp-message-tls", "xmpp", "xmpp-sensor"),
    ("coap-new-thing", "coap", "coap-sensor"), ("mqtt-sn", "other", None),
])
def test_protocol_and_app_of_a_variant(name: str, protocol: str, app: str | None) -> None:
    assert (protocol_of(name), app_of(name)) == (protocol, app)


def test_caption_names_the_energy_settings_and_the_heap_platform(synthetic_run: Path) -> None:
    caption = table_caption(read_results(synthetic_run))
    assert "2500 mAh (cc2420, always-on; radio only)" in caption
    assert "micropython-test" in caption


def test_delta_figures_say_which_way_is_better() -> None:
    better_higher = {f.key for f in DELTA_FIGURES if not f.lower_is_better}
    assert better_higher == {"delivered", "lifetime_days"}


def test_steady_never_exceeds_all_in_on_the_real_sample(sample_run: Path) -> None:
    """Both count the PHY's SHR+PHR: the steady cost of a reading is part of the all-in one
    (the all-in figure once divided PSDU bytes only, and coap-get showed 242 < 270)."""
    results = read_results(sample_run)
    for f in variant_figures(results):
        assert f.steady_bytes_per_reading is not None and f.all_in_bytes_per_reading is not None
        assert f.steady_bytes_per_reading <= f.all_in_bytes_per_reading, f.name
        air = results.variants[f.name].air
        assert f.all_in_bytes_per_reading == air.total_bytes / f.delivered, f.name
        assert f.psdu_bytes == air.bytes  # the PSDU column stays without the PHY


def test_all_in_of_a_run_before_the_analysis_adds_the_phy_per_frame(tmp_path: Path) -> None:
    from dataclasses import replace

    from testbed.experiment.results import Air
    from tests.report.runs import write_run

    old = replace(coap(), air=Air(frames=40, bytes=2000, ack_frames=16))  # no total_bytes
    (f,) = variant_figures(read_results(write_run(tmp_path / "run", variants={"coap-get": old})))
    assert f.all_in_bytes_per_reading == (2000 + 6 * 40) / 8


def test_headline_figures_are_the_tables(synthetic_run: Path) -> None:
    results = read_results(synthetic_run)
    figures = headline_figures(results.variants["xmpp-message"], results.memory)
    assert figures == {
        "delivered": 8, "sent": 8, "steady_bytes_per_reading": 600.0,
        "all_in_bytes_per_reading": 13200 / 8, "frames_per_reading": 12.0, "setup_bytes": 6000,
        "latency_p50_ms": 30.0, "latency_p95_ms": 200.0, "energy_mj_per_reading": 25.0,
        "energy_duty_mj_per_reading": None,
        "lifetime_days": 4.0, "reconnects": 0,
    }
    assert list(figures) == list(HEADLINE_UNITS)
    assert headline_figures(results.variants["xmpp-message"]) == figures  # memory is optional
    # a figure two runs are compared on has the same key as in the headline
    assert {f.key for f in DELTA_FIGURES} <= set(HEADLINE_UNITS)


def test_memory_lines_have_thousands_separators_like_the_table() -> None:
    coap_line, xmpp_line = memory_lines(MEMORY)
    assert coap_line == ("memory coap-sensor: bytecode 9,000 B (source 25,000 B); heap on "
                         "micropython-test of 10,000 B: before 300, after_import 5,000, "
                         "after_encode 6,000, peak 7,000; fits")
    assert xmpp_line.startswith("memory xmpp-sensor: bytecode 14,000 B (source 37,000 B); ")
    assert xmpp_line.endswith("does NOT fit: compile+import xmltok: MemoryError: memory "
                              "allocation failed, allocating 97 bytes")
    unmeasured = {"app": {"bytecode_bytes": None, "bytecode_error": "no mpy-cross",
                          "heap": None}, "junk": [1]}
    assert memory_lines(unmeasured) == ["memory app: bytecode not measured (no mpy-cross); "
                                        "heap not measured"]


def test_the_micropython_127_line_says_bound_and_live_heap() -> None:
    from testbed.report.model import heap_127_line

    need = {"platform": "micropython-1.27-webassembly", "smallest_heap": 24576,
            "after_import": 10096, "after_encode": 13584, "steady_live": 13712}
    assert heap_127_line("coap-sensor", need) == (
        "memory coap-sensor on MicroPython 1.27 (micropython-1.27-webassembly): import and "
        "the first reading run in a heap of 24,576 B (nothing collected in between: an upper "
        "bound); live 10,096 B after import, 13,584 B after the reading, 13,712 B at most "
        "over 50 more")
    assert heap_127_line("x", {"platform": "p", "error": "no node"}) == \
        "memory x on MicroPython 1.27 (p): not measured (no node)"
    assert heap_127_line("x", None) is None


def test_the_caption_says_what_the_implementations_identifiers_add(synthetic_run: Path,
                                                                    tmp_path: Path) -> None:
    """Per variant, the identifier bytes the analysis found on a reading; none said for a
    run from before the figure (the synthetic run has none)."""
    import json
    import shutil

    assert "what the implementations add" not in table_caption(read_results(synthetic_run))
    run = shutil.copytree(synthetic_run, tmp_path / "run")
    data = json.loads((run / "results.json").read_text())
    data["variants"]["coap-observe-non"]["air"]["per_reading"]["identifier_bytes"] = 2.7
    data["variants"]["xmpp-message"]["air"]["per_reading"]["identifier_bytes"] = 0
    (run / "results.json").write_text(json.dumps(data))
    caption = table_caption(read_results(run))
    assert caption.count("what the implementations add") == 1
    assert "coap-observe-non 3 B, xmpp-message 0 B" in caption
    # split by time (TLS): the ids are encrypted, so no figure at all rather than 0 B
    data["variants"]["xmpp-message"]["air"]["per_reading"]["method"] = "time"
    (run / "results.json").write_text(json.dumps(data))
    caption = table_caption(read_results(run))
    assert "coap-observe-non 3 B" in caption and "xmpp-message 0 B" not in caption
