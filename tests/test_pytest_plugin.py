"""The pytest plugin as a lab meets it: a suite outside the repository, plugin found by entry point."""

from __future__ import annotations

import pytest

from testbed.backends.netns import has_net_admin
from tests.topologies import PAIR

pytest_plugins = ["pytester"]



def test_bad_topology_option_is_one_line_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", broken="name: broken\nnodes:\n  br: {rol: border-router}\n")
    pytester.makepyfile("def test_uses_it(topology):\n    pass\n")
    result = pytester.runpytest_subprocess("--topology", "broken.yaml")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*broken.yaml:3:8: nodes.br.rol: unknown key 'rol'; did you mean 'role'?*"])
    assert "Traceback" not in result.stderr.str()


def test_without_topology_option_the_fixture_skips_with_the_fix(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses_it(topology):\n    pass\n")
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*pass --topology*"])


@pytest.mark.slow
@pytest.mark.skipif(not has_net_admin(), reason="needs CAP_NET_ADMIN (root)")
def test_user_suite_brings_a_network_up_and_leaves_nothing(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", pair=PAIR)
    pytester.makepyfile(
        """
        import subprocess

        def test_ping_over_the_air(bring_up, topology):
            net = bring_up(topology)
            out = net.exec("n1", ["ping", "-6", "-c", "2", "-W", "5", str(net.address("br"))],
                           capture_output=True, text=True)
            assert out.returncode == 0, out.stdout
            namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
            assert net.netns("n1") in namespaces
        """
    )
    result = pytester.runpytest_subprocess("--topology", "pair.yaml", "--report-dir", "runs")
    result.assert_outcomes(passed=1)
    runs = list((pytester.path / "runs").glob("*/capture.pcap"))
    assert len(runs) == 1 and runs[0].stat().st_size > 24  # the capture holds frames
