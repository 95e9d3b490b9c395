"""The verdict figures are picked and divided right from results.json (runs.py's table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.experiment.results import read_results
from testbed.report.model import (
    DELTA_FIGURES, app_of, heap_figures, protocol_of, table_caption, variant_figures,
)


def test_figures_of_the_synthetic_run(synthetic_run: Path) -> None:
    coap, xmpp = variant_figures(read_results(synthetic_run))
    assert (coap.name, coap.protocol, coap.app) == ("coap-observe-non", "coap", "coap-sensor")
    assert (xmpp.name, xmpp.protocol, xmpp.app) == ("xmpp-message", "xmpp", "xmpp-sensor")
    assert coap.all_in_psdu_per_reading == 2000 / 8
    assert xmpp.all_in_psdu_per_reading == 12000 / 8
    assert (coap.steady_bytes_per_reading, coap.frames_per_reading) == (150.0, 3.0)
    assert (xmpp.setup_bytes, xmpp.setup_ms_p50) == (6000, 250.0)
    assert (coap.mj_per_reading, coap.lifetime_days) == (20.0, 5.5)  # min over the sensors
    assert (xmpp.mj_per_reading, xmpp.lifetime_days) == (25.0, 4.0)
    assert (coap.bytecode_bytes, xmpp.bytecode_bytes) == (9000, 14000)
    assert coap.heap.fits and coap.heap.used == 7000 and coap.heap.verdict == "fits 7,000/10,000 B"
    assert xmpp.heap.fits is False and xmpp.heap.verdict == "MemoryError"
    assert coap.status == xmpp.status == "ok"


def test_figures_of_the_real_sample(sample_run: Path) -> None:
    figures = {f.name: f for f in variant_figures(read_results(sample_run))}
    assert len(figures) == 7
    tls = figures["xmpp-message-tls"]
    assert tls.psdu_bytes == 54735 and tls.frames == 999 and tls.setup_bytes == 43033
    assert tls.all_in_psdu_per_reading == pytest.approx(54735 / 12)
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


@pytest.mark.parametrize(("variant", "protocol", "app"), [
    ("coap-get", "coap", "coap-sensor"), ("xmpp-message-tls", "xmpp", "xmpp-sensor"),
    ("coap-new-thing", "coap", "coap-sensor"), ("mqtt-sn", "other", None),
])
def test_protocol_and_app_of_a_variant(variant: str, protocol: str, app: str | None) -> None:
    assert (protocol_of(variant), app_of(variant)) == (protocol, app)


def test_caption_names_the_energy_settings_and_the_heap_platform(synthetic_run: Path) -> None:
    caption = table_caption(read_results(synthetic_run))
    assert "2500 mAh (cc2420, always-on; radio only)" in caption
    assert "micropython-test" in caption


def test_delta_figures_say_which_way_is_better() -> None:
    better_higher = {f.key for f in DELTA_FIGURES if not f.lower_is_better}
    assert better_higher == {"delivered", "lifetime_days"}
