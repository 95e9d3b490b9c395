"""The plugin's options as a lab meets them: one group, parsed once, bad input in one line."""

from __future__ import annotations

import pytest

OPTIONS = ("--topology", "--lab", "--backend", "--variants", "--readings", "--interval", "--seed",
           "--report-dir", "--job-summary")
QEMU_LAB = "name: qemu\nboards:\n  qemu1: {platform: micropython, emulator: qemu-microbit, node: s1}\n"


def test_every_option_is_in_the_testbed_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    out = result.stdout.str()
    group = out[out.index("IoT protocol testbed"):]
    group = group[:group.index("\n\n")]
    for option in OPTIONS:
        assert f"  {option}" in group, option


def test_bad_topology_option_is_one_line_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", broken="name: broken\nnodes:\n  br: {rol: border-router}\n")
    pytester.makepyfile("def test_uses_it(topology):\n    pass\n")
    result = pytester.runpytest_subprocess("--topology", "broken.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*broken.yaml:3:8: nodes.br.rol: unknown key 'rol'; did you mean 'role'?*"])
    assert "Traceback" not in result.stderr.str()


def test_bad_lab_file_is_one_line_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", lab="name: desk\nboards:\n  mb1: {platform: micropyton, port: /dev/ttyACM0}\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--lab", "lab.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*lab.yaml:3:*: boards.mb1.platform: expected one of micropython, "
                                 "contiki, sensniff*did you mean 'micropython'?*"])
    assert "Traceback" not in result.stderr.str()


def test_a_missing_lab_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--lab", "nowhere.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*nowhere.yaml: cannot read lab file*"])


def test_backend_lab_needs_a_lab_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--backend", "lab")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--backend lab needs --lab FILE*"])


def test_an_unknown_variant_is_a_usage_error_with_a_suggestion(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--variants", "coap-get,xmpp-mesage")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown variant 'xmpp-mesage'; did you mean 'xmpp-message'?*"])


@pytest.mark.parametrize("option", [("--readings", "0"), ("--interval", "-1")])
def test_readings_and_interval_must_be_positive(pytester: pytest.Pytester, option) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess(*option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{option[0]}: expected*"])


def test_the_options_reach_the_session(pytester: pytest.Pytester) -> None:
    """Every option, as the fixtures see it (the settings on the config's stash)."""
    pytester.makefile(".yaml", pair="name: pair\nnodes:\n  br: {role: border-router}\n"
                                    "  s1: {role: sensor}\nlinks:\n  - [br, s1]\n")
    pytester.makefile(".yaml", lab=QEMU_LAB)
    pytester.makepyfile(
        """
        from pathlib import Path
        from testbed.pytest_plugin.options import settings_of

        def test_settings(pytestconfig):
            s = settings_of(pytestconfig)
            assert s.topology.name == "pair" and s.lab.name == "qemu"
            assert str(s.backend) == "lab"  # the default once --lab is given
            assert [str(v) for v in s.variants] == ["xmpp-iq", "coap-get"]
            assert (s.readings, s.interval_s, s.seed) == (3, 0.25, 7)
            assert s.report_dir == Path("runs")
            assert s.job_summary == Path("summary.md") and not s.append_summary
        """
    )
    result = pytester.runpytest_subprocess(
        "--topology", "pair.yaml", "--lab", "lab.yaml", "--variants", "xmpp-iq,coap-get",
        "--readings", "3", "--interval", "0.25", "--seed", "7", "--report-dir", "runs",
        "--job-summary", "summary.md")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("args", [(), ("--lab", "lab.yaml", "--backend", "emulated")])
def test_the_backend_is_emulated_without_a_lab_or_when_chosen(pytester: pytest.Pytester,
                                                              args) -> None:
    pytester.makefile(".yaml", lab=QEMU_LAB)
    pytester.makepyfile(
        """
        from testbed.pytest_plugin.options import settings_of

        def test_backend(pytestconfig):
            s = settings_of(pytestconfig)
            assert str(s.backend) == "emulated"
            assert (s.readings, s.interval_s, s.seed) == (5, 0.5, 1)  # add_options' defaults
        """
    )
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
