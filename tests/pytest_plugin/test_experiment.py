"""End to end: a user's suite runs the comparison through the fixtures, and the session leaves
its figures in --junitxml, tests.json, the report and the job summary."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from testbed.backends.netns import has_net_admin
from tests.topologies import SENSOR_PAIR as PAIR

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not has_net_admin(), reason="needs CAP_NET_ADMIN (root)")]

LINE = ("name: line\nnodes:\n  br: {role: border-router}\n  r1: {role: router}\n"
        "  s1: {role: sensor}\nlinks:\n  - [br, r1]\n  - [r1, s1]\n")
ARGS = ("--topology", "pair.yaml", "--readings", "2", "--variants", "coap-observe-non",
        "--report-dir", "runs", "--junitxml", "out.xml", "--job-summary", "summary.md")

SUITE = '''
import pytest
from testbed.pytest_plugin import NodeExecError


def test_delivered(testbed, variant):
    readings = testbed.result(variant).readings
    assert readings.delivered == readings.sent == 2


def test_node(node, variant):
    s1 = node("s1")
    assert [e["seq"] for e in s1.events if e.kind == "reading"] == [1, 2]
    assert '"event": "ready"' in s1.console
    out = s1.exec(["ip", "-6", "addr", "show", "dev", "wpan0"], capture_output=True, text=True)
    assert out.returncode == 0 and "fd00::" in out.stdout, out
    assert s1.exec("print(1+1)") == "2\\n"
    with pytest.raises(NodeExecError, match="ZeroDivisionError"):
        s1.exec("1/0")


def test_sniffer(sniffer, variant, testbed, results):
    assert sniffer and len(sniffer) == testbed.result(variant).air.frames
    results.record("steady_bytes_per_reading", 141, unit="B")  # the test's own figure wins


def test_energy(energy):
    assert energy.per_reading_mj > 0 and energy.mode == "always-on"
    duty = energy.under(mode="contikimac")
    assert duty.mode == "contikimac" and duty.profile == energy.profile
    other = energy["other_modes"]["contikimac"]["per_reading_mj"]["sensors"]  # floor included
    assert duty.total_mj == pytest.approx(other)
    bigger = energy.under(battery_mah=5000)
    for sensor, days in energy.lifetime_days.items():
        assert bigger.lifetime_days[sensor] == pytest.approx(2 * days, rel=1e-3)


def test_memory(memory):
    assert memory["coap-sensor"]["bytecode_bytes"] > 0


@pytest.mark.topology("line.yaml")
def test_on_its_own_topology(testbed, variant):
    assert testbed.topology.name == "line"
    assert testbed.result(variant).readings.delivered > 0


def test_no_experiment():
    pass
'''


def headline_from_results(run_dir: Path, variant: str) -> dict[str, float]:
    """The headline figures read straight from results.json, in the words of
    testbed/report/model.py (not through it: this is what the plugin must agree with)."""
    v = json.loads((run_dir / "results.json").read_text())["variants"][variant]
    readings, air, energy = v["readings"], v["air"], v["energy"]
    return {
        "delivered": readings["delivered"], "sent": readings["sent"],
        "steady_bytes_per_reading": air["per_reading"]["bytes"],
        "all_in_bytes_per_reading": air["total_bytes"] / readings["delivered"],
        "frames_per_reading": air["per_reading"]["frames"],
        "setup_bytes": air["setup"]["bytes"],
        "latency_p50_ms": readings["latency_ms"]["p50"],
        "latency_p95_ms": readings["latency_ms"]["p95"],
        "energy_mj_per_reading": energy["per_reading_mj"]["protocol"],
        "energy_duty_mj_per_reading": energy["other_modes"]["contikimac"]["per_reading_mj"][
            "sensors"],
        "lifetime_days": min(energy["lifetime_days"].values()),
        "reconnects": readings["reconnects"],
    }


def _cases(xml_path: Path) -> dict[str, dict[str, list[str]]]:
    cases = {}
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        props: dict[str, list[str]] = {}
        for p in case.iter("property"):
            props.setdefault(p.get("name"), []).append(p.get("value"))
        cases[case.get("name")] = props
    return cases


def test_a_suite_leaves_its_figures_everywhere(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", pair=PAIR, line=LINE)
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess(*ARGS)
    result.assert_outcomes(passed=7)

    runs = sorted((pytester.path / "runs").glob("*/results.json"))
    run_dirs = {json.loads(p.read_text())["topology"]: p.parent for p in runs}
    assert set(run_dirs) == {"pair", "line"}  # the two experiments (live networks have no results)
    pair = run_dirs["pair"]

    # --junitxml: the run at suite level, the variant's headline per test that used it
    root = ET.parse(pytester.path / "out.xml").getroot()
    suite_props = [(p.get("name"), p.get("value")) for p in root.find("testsuite/properties")]
    for run_dir in run_dirs.values():
        run_id = run_dir.name.rsplit("-", 1)[-1]
        assert ("run_id", run_id) in suite_props and ("run_dir", str(run_dir)) in suite_props
    assert {("topology", "pair"), ("topology", "line"), ("seed", "1")} <= set(suite_props)
    cases = _cases(pytester.path / "out.xml")
    expected = headline_from_results(pair, "coap-observe-non")
    delivered = cases["test_delivered[coap-observe-non]"]
    assert delivered.pop("variant") == ["coap-observe-non"]
    assert set(delivered) == set(expected)
    for name, value in expected.items():  # properties are rounded to 6 decimals
        assert len(delivered[name]) == 1 and float(delivered[name][0]) == \
            pytest.approx(value, abs=1e-6), name
    assert delivered["delivered"] == delivered["sent"] == ["2"]
    sniffer = cases["test_sniffer[coap-observe-non]"]
    assert sniffer["steady_bytes_per_reading"] == ["141"]
    assert float(sniffer["frames_per_reading"][0]) == pytest.approx(
        expected["frames_per_reading"], abs=1e-6)
    assert "delivered" in cases["test_node[coap-observe-non]"]  # it read the node's events
    on_line = cases["test_on_its_own_topology[coap-observe-non-line]"]
    line_expected = headline_from_results(run_dirs["line"], "coap-observe-non")
    for name, value in line_expected.items():  # its own run's figures, not the pair's
        assert float(on_line[name][0]) == pytest.approx(value, abs=1e-6), name
    assert cases["test_no_experiment"] == {}

    # tests.json: each run's holds the tests that used it (none that used another run or no
    # run), with their figures and units
    def tests_of(run_dir: Path) -> dict[str, dict]:
        return {t["nodeid"].split("::")[1]: t for t in
                json.loads((run_dir / "tests.json").read_text())}

    tests = tests_of(pair)
    assert set(tests) == {"test_delivered[coap-observe-non]", "test_node[coap-observe-non]",
                          "test_sniffer[coap-observe-non]", "test_energy[coap-observe-non]",
                          "test_memory"}
    assert {t["outcome"] for t in tests.values()} == {"passed"}
    pair_id = pair.name.rsplit("-", 1)[-1]
    assert {t["run_id"] for t in tests.values()} == {pair_id}
    assert tests["test_sniffer[coap-observe-non]"]["properties"]["steady_bytes_per_reading"] == 141
    from testbed.report.model import HEADLINE_UNITS

    in_json = tests["test_delivered[coap-observe-non]"]
    assert in_json["units"] == HEADLINE_UNITS
    assert in_json["properties"].pop("variant") == "coap-observe-non"
    assert in_json["properties"] == pytest.approx(expected, abs=1e-6)
    assert tests["test_memory"]["variant"] is None
    line_tests = tests_of(run_dirs["line"])
    assert list(line_tests) == ["test_on_its_own_topology[coap-observe-non-line]"]
    assert line_tests["test_on_its_own_topology[coap-observe-non-line]"]["run_id"] == \
        run_dirs["line"].name.rsplit("-", 1)[-1]

    # the report re-rendered, its path in pytest's summary; the job summary holds the run's
    from testbed.report import summary_markdown

    for run_dir in run_dirs.values():
        assert (run_dir / "report.html").is_file() and (run_dir / "summary.md").is_file()
        result.stdout.fnmatch_lines([f"testbed: report {run_dir / 'report.html'}"])
    summary = (pytester.path / "summary.md").read_text()
    assert summary.startswith("## testbed: 7 passed\n")
    assert summary_markdown(pair).strip() in summary


def test_a_report_that_fails_never_hides_the_tests(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", pair=PAIR)
    pytester.makepyfile(
        """
        def test_breaks_the_run_directory(testbed, variant):
            assert testbed.result(variant).readings.delivered == 2
            (testbed.run_dir / "results.json").write_text("{")
        """
    )
    result = pytester.runpytest_subprocess(*ARGS)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["testbed: report of */runs/* not written: BadInput: *"])
    run_dir = next((pytester.path / "runs").glob("*/tests.json")).parent
    assert json.loads((run_dir / "tests.json").read_text())[0]["outcome"] == "passed"
    assert "## testbed: 1 passed" in (pytester.path / "summary.md").read_text()
