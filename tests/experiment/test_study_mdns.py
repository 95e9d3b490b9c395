"""The mDNS study: the sweep's points, the power-law fit against hand-computed cases, and one
tiny study end to end on the emulated radio (its report included)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from testbed.backends import netns
from testbed.config import generate
from testbed.errors import BadInput
from testbed.experiment.study_mdns import (
    MECHANISMS,
    Point,
    fit_power_law,
    growth_label,
    parse_sets,
    points,
    run_study,
)
from testbed.jsonlines import read_json_lines


def test_the_fit_recovers_exact_power_laws() -> None:
    """y = 3 N and y = 0.5 N^2 on N = 10, 20, 40: b exactly 1 and 2, a exactly 3 and 0.5."""
    ns = [10, 20, 40]
    linear = fit_power_law(ns, [30, 60, 120])
    square = fit_power_law(ns, [50, 200, 800])
    assert linear is not None and square is not None
    assert (round(linear["b"], 9), round(linear["a"], 9), round(linear["r2"], 9)) == (1, 3, 1)
    assert (round(square["b"], 9), round(square["a"], 9)) == (2, 0.5)


def test_the_fit_of_noisy_points_is_the_least_squares_line_on_logs() -> None:
    """By hand: log N = (0, ln 2), log y = (0, ln 8) and (0, ln 2): two points per x, the line
    goes through the means: b = (ln 8 + ln 2)/2 / ln 2 = 2, a = 1."""
    fit = fit_power_law([1, 2, 1, 2], [1, 8, 1, 2])
    assert fit is not None
    assert math.isclose(fit["b"], 2.0) and math.isclose(fit["a"], 1.0)
    assert fit["r2"] < 1.0


def test_too_few_sizes_give_no_fit_and_labels_read_the_exponent() -> None:
    assert fit_power_law([10, 10], [1, 2]) is None
    assert fit_power_law([10, 20], [0, 5]) is None  # a zero cannot go on a log axis
    assert [growth_label(b) for b in (-0.5, 0.1, 1.05, 1.5, 2.1, 3.2)] == [
        "falls with N", "O(1)", "O(N)", "O(N^1.5)", "O(N^2)", "O(N^3) or worse"]


def test_a_sweep_is_every_combination_and_bad_values_are_bad_input() -> None:
    sweep = points([4, 8], ["clique", "grid"], [0.0], ["all", "no-known_answer"], [1, 2],
                   ["link", "mpl"])
    assert len(sweep) == 2 * 2 * 2 * 3  # clique: link only; grid: link and MPL
    contiki = points([4], ["clique", "grid"], [0.0], ["all", "none"], [1, 2], ["link", "mpl"],
                     contiki_sizes=[10, 20])
    on_contiki = [p for p in contiki if p.platform == "contiki"]
    assert len(on_contiki) == 2 * 2 * 2  # link-local only, the first seed only
    assert {p.seed for p in on_contiki} == {1} and {p.transport for p in on_contiki} == {"link"}
    assert Point(10, "grid", 0.0, "none", 1, platform="contiki").defines() == {
        f"MDNS_CONF_{m.upper()}": "0" for m in MECHANISMS}
    assert Point(10, "grid", 0.0, "no-goodbye", 1, platform="contiki").defines() == {
        "MDNS_CONF_GOODBYE": "0"}
    assert Point(4, "clique", 0.0, "none", 1).switches()["probing"] is False
    assert Point(4, "grid", 0.0, "no-rate_limit", 1).switches() == {"rate_limit": False}
    with pytest.raises(BadInput, match="no-magic"):
        parse_sets("all,no-magic")
    with pytest.raises(BadInput, match="density 'ring'"):
        points([4], ["ring"], [0.0], ["all"], [1])
    with pytest.raises(BadInput, match="loss 1"):
        points([4], ["grid"], [1.0], ["all"], [1])


def test_a_clique_hears_everyone_and_loss_reaches_every_link() -> None:
    topology = generate.with_loss(generate.clique(6), 0.25)
    assert len(topology.radio_links()) == 6 * 5 // 2
    assert set(topology.neighbours("n3").values()) == {0.75}


@pytest.mark.slow
@pytest.mark.needs_root
@pytest.mark.skipif(not netns.has_net_admin(), reason="needs CAP_NET_ADMIN (run as root)")
def test_a_tiny_study_crosses_hops_with_mpl_and_reports_it(tmp_path: Path) -> None:
    """A 2 x 2 grid (the diagonals two hops apart) over MPL, and link-local on Contiki nodes:
    over ff05::fb forwarded by MPL every node learns every other, over ff02::fb exactly its
    neighbours; what the engines sent is on the air; tshark reads the MPL option and every
    Contiki node's mDNS; the report has the plots and a row per point (the growth fit itself
    is checked on hand-made cases above). Linux nodes over ff02::fb alone are the MPL point's
    engines without the forwarder (nodes/xmpp-sensor/tests: the engine on real links)."""
    from testbed.report.study import render_study
    from tests.e2e.tshark import fields

    run_dir = run_study(sizes=(4,), densities=("grid",), sets=("all",), seeds=(1,),
                        transports=("mpl", "srp"), contiki_sizes=(4,), duration_s=8.0,
                        out=tmp_path)
    study = json.loads((run_dir / "results.json").read_text())
    assert len(study["points"]) == 3
    for name, p in study["points"].items():
        assert "error" not in p, p
        n = p["nodes"]
        if "contiki" in name:  # br runs the border router: n1 and n2 hear only n3
            assert n == 3 and p["expected_peers"] == 4, name
            assert p["known_peers"] == 4 and p["complete"] == 3, name
        elif "srp" in name:  # no mDNS at all: every node registered at br and asked it;
            # n1 and n2 are hidden from each other at br, so an update (5 fragments) may need
            # its second try, and whoever asked before that learns of it at the next question
            assert p["expected_peers"] == n * (n - 1), name
            assert p["known_peers"] >= 0.75 * p["expected_peers"], name
            registered = [e for e in read_json_lines(run_dir / name / "events.jsonl")
                          if e.get("mdns") == "registered"]
            assert sorted(e["node"] for e in registered) == ["br", "n1", "n2", "n3"], name
            assert p["air"]["mdns_frames"] == 0 and p["air"]["dns_bytes"] > 0, name
            sent = p["engine_sent"]
            assert sent["register"][0] >= n and sent["query"][0] >= n, name
            assert p["air"]["dns_bytes"] > sent["register"][1] + sent["query"][1]
            continue
        else:  # MPL: every other node; collisions of the flood may cost a record or two
            # in 8 s, but more than the neighbours must be known: MPL crossed a hop
            assert p["expected_peers"] == n * (n - 1), name
            assert p["known_peers"] > 2 * p["links"], name
            assert p["known_peers"] >= 0.9 * p["expected_peers"], name
        sent = p["engine_sent"]
        assert sent["probe"][0] == 3 * n  # RFC 6762 §8.1: 3 probes (both names in each)
        assert sent["announce"][0] >= 2 * n  # §8.3: at least two announcements
        assert p["air"]["mdns_bytes"] > sum(b for _, b in sent.values())  # + headers, copies
    rows = fields(run_dir / "grid-4-loss0-all-mpl-seed1" / "capture.pcap", "ipv6.dst",
                  "ipv6.opt.mpl.sequence", display_filter="mdns")
    assert rows and all(r[0] == "ff05::fb" and r[1] for r in rows)
    registrations = fields(run_dir / "grid-4-loss0-all-srp-seed1" / "capture.pcap",
                           "dns.flags.opcode", "dns.count.add_rr", "ipv6.dst",
                           display_filter="dns.flags.opcode == 5 && dns.flags.response == 0")
    assert len(registrations) >= 3  # tshark reads each UPDATE: EDNS(0) and SIG(0), to br
    assert {tuple(r) for r in registrations} == {("5", "2", "fd00::ff:fe00:1")}
    contiki = fields(run_dir / "grid-4-loss0-all-contiki-seed1" / "capture.pcap", "ipv6.src",
                     "ipv6.hlim", display_filter="mdns")  # Contiki's 6LoWPAN, read by tshark
    assert {r[0] for r in contiki} == {"fe80::ff:fe00:2", "fe80::ff:fe00:3", "fe80::ff:fe00:4"}
    assert {r[1] for r in contiki} == {"255"}  # RFC 6762 §11
    assert study["growth"] == []  # one size: nothing to fit
    report, summary = render_study(run_dir)
    html = report.read_text()
    assert "growth-table" in html and "plot-study-bytes" in html and "points-table" in html
    assert "| grid-4-loss0-all-mpl-seed1 |" in summary.read_text()
    assert "| grid-4-loss0-all-contiki-seed1 |" in summary.read_text()
