"""`results.record(...)`: a figure of the test as a property in --junitxml, whatever the family."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest


def properties(xml_path, name: str) -> list[tuple[str, str]]:
    case = next(c for c in ET.parse(xml_path).getroot().iter("testcase")
                if c.get("name") == name)
    return [(p.get("name"), p.get("value")) for p in case.iter("property")]


@pytest.mark.parametrize("family", ["xunit2", "xunit1"])
def test_recorded_figures_are_junit_properties(pytester: pytest.Pytester, family: str) -> None:
    pytester.makepyfile(
        """
        def test_figures(results):
            results.record("bytes_per_reading", 141, unit="B")
            results.record("ratio", 1 / 3)
            results.record("verdict", "fits")
            assert results.recorded["bytes_per_reading"] == 141

        def test_a_bad_name(results):
            results.record("", 1)
        """
    )
    result = pytester.runpytest_subprocess("--junitxml", "out.xml", "-o", f"junit_family={family}")
    result.assert_outcomes(passed=1, failed=1)
    assert properties(pytester.path / "out.xml", "test_figures") == [
        ("bytes_per_reading", "141"), ("ratio", "0.333333"), ("verdict", "fits")]
    result.stdout.fnmatch_lines(["*TypeError: results.record: the name must be non-empty text*"])
    assert "incompatible with junit_family" not in result.stdout.str()  # no xunit2 warning


def test_without_junitxml_recording_is_harmless(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(results):\n    results.record('x', 1, unit='B')\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
