"""Parametrisation and fixtures that need no comparison run: variants, the topology marker,
what `node` says when a test lacks a variant, `bring_up` in a user's suite."""

from __future__ import annotations

import pytest

from testbed.backends.netns import has_net_admin
from tests.topologies import PAIR

needs_root = pytest.mark.skipif(not has_net_admin(), reason="needs CAP_NET_ADMIN (root)")
LINE = "name: line\nnodes:\n  br: {role: border-router}\n  r1: {role: router}\n" \
       "  s1: {role: sensor}\nlinks:\n  - [br, r1]\n  - [r1, s1]\n"
QEMU_LAB = "name: qemu\nboards:\n  qemu1: {platform: micropython, emulator: qemu-microbit, node: s1}\n"


def test_a_test_taking_variant_runs_once_per_selected_variant(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_each(variant):
            pass

        @pytest.mark.variant("xmpp-iq", "coap-observe-con")
        def test_only_xmpp_iq_of_the_selected(variant):
            assert str(variant) == "xmpp-iq"

        @pytest.mark.parametrize("variant", ["coap-observe-non"])
        def test_its_own_parametrisation_wins(variant):
            assert variant == "coap-observe-non"
        """
    )
    result = pytester.runpytest_subprocess("-v", "--variants", "coap-get,xmpp-iq")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines_random([
        "*test_each?coap-get? PASSED*", "*test_each?xmpp-iq? PASSED*",
        "*test_only_xmpp_iq_of_the_selected?xmpp-iq? PASSED*",
        "*test_its_own_parametrisation_wins?coap-observe-non? PASSED*",
    ])


def test_every_variant_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_each(variant):\n    pass\n")
    from testbed.experiment.variants import Variant

    pytester.runpytest_subprocess().assert_outcomes(passed=len(Variant))


def test_an_unknown_variant_in_a_marker_is_a_one_line_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.variant("coap-gte")
        def test_it(variant):
            pass
        """
    )
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.INTERRUPTED  # a collection error: nothing runs
    result.stdout.fnmatch_lines(["*test_it: --variants: unknown variant 'coap-gte'; did you mean 'coap-get'?*"])
    assert "Traceback" not in result.stdout.str()


def test_an_unknown_variant_fails_only_a_test_that_asks_for_a_per_variant_fixture(
        pytester: pytest.Pytester) -> None:
    """A test's own parameter named `variant` is the test's business; a per-variant fixture
    (`node`) given a value that is no protocol variant fails in one line before it runs."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("variant", ["coap-gte"])
        def test_needs_a_protocol_variant(variant, node):
            raise AssertionError("must not run")

        @pytest.mark.parametrize("variant", ["blue"])
        def test_its_own_meaning(variant):
            assert variant == "blue"

        @pytest.mark.parametrize("variant", ["xmpp-iq"])
        def test_a_known_one(variant):
            assert variant == "xmpp-iq"
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*test_needs_a_protocol_variant?coap-gte?: variant 'coap-gte' "
                                 "is no protocol variant (known: coap-get, *)"])
    assert "Traceback" not in result.stdout.str() and "must not run" not in result.stdout.str()


def test_the_topology_marker_gives_the_test_its_topology(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", pair=PAIR, line=LINE)
    pytester.makepyfile(
        """
        import pytest

        def test_the_selected_one(topology):
            assert topology.name == "pair"

        @pytest.mark.topology("line.yaml")
        def test_a_file_next_to_the_test(topology):
            assert topology.name == "line" and list(topology.nodes) == ["br", "r1", "s1"]

        @pytest.mark.topology("pair")
        def test_the_selected_one_by_name(topology):
            assert topology.name == "pair"
        """
    )
    result = pytester.runpytest_subprocess("-rs", "-v", "--topology", "pair.yaml")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_a_file_next_to_the_test?line? PASSED*"])


def test_a_topology_marker_naming_nothing_is_a_collection_error(pytester: pytest.Pytester
                                                                ) -> None:
    """A typo in the marker must turn CI red, not skip the test quietly."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.topology("no-such-topology")
        def test_a_missing_one(topology):
            raise AssertionError("must not run")
        """
    )
    result = pytester.runpytest_subprocess()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*topology marker: 'no-such-topology' not found (looked for *)"])
    assert "must not run" not in result.stdout.str()


def test_the_topology_fixture_falls_back_to_the_rootdirs_default(pytester: pytest.Pytester
                                                                 ) -> None:
    """Like the `testbed` experiment: no --topology, topologies/default.yaml under the rootdir."""
    pytester.makeini("[pytest]\n")
    (pytester.path / "topologies").mkdir()
    (pytester.path / "topologies" / "default.yaml").write_text(PAIR)
    pytester.makepyfile("def test_it(topology):\n    assert topology.name == 'pair'\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)


def test_on_the_lab_backend_another_topology_is_skipped(pytester: pytest.Pytester) -> None:
    """The lab's boards are the --topology: a test that needs another one cannot run there."""
    pytester.makefile(".yaml", pair=PAIR, line=LINE, lab=QEMU_LAB)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.topology("line.yaml")
        def test_on_line(topology):
            raise AssertionError("must not run")

        @pytest.mark.topology("pair.yaml")
        def test_on_pair(topology):
            assert topology.name == "pair"
        """
    )
    result = pytester.runpytest_subprocess("-rs", "--topology", "pair.yaml", "--lab", "lab.yaml")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*needs topology 'line'; on --backend lab the lab plays pair*"])


def test_a_bad_topology_in_a_marker_is_a_one_line_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", broken="name: broken\nnodes:\n  br: {rol: border-router}\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.topology("broken.yaml")
        def test_it(topology):
            pass
        """
    )
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*broken.yaml:3:8: nodes.br.rol: unknown key 'rol'*"])
    assert "Traceback" not in result.stdout.str()


def test_without_topology_option_the_fixture_skips_with_the_fix(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses_it(topology):\n    pass\n")
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*pass --topology*"])


@needs_root
def test_testbed_is_made_per_topology_and_runs_nothing_until_asked(pytester: pytest.Pytester
                                                                   ) -> None:
    """A topology-marked test gets its topology's own experiment; neither has run yet."""
    pytester.makefile(".yaml", pair=PAIR, line=LINE)
    pytester.makepyfile(
        """
        import pytest

        seen = {}

        def test_selected(testbed):
            seen["selected"] = testbed
            assert testbed.topology.name == "pair" and not testbed.ran

        @pytest.mark.topology("line.yaml")
        def test_marked(testbed):
            seen["line"] = testbed
            assert testbed.topology.name == "line" and not testbed.ran

        @pytest.mark.topology("line.yaml")
        def test_marked_again(testbed):
            assert testbed is seen["line"] and testbed is not seen["selected"]
        """
    )
    pytester.runpytest_subprocess("--topology", "pair.yaml").assert_outcomes(passed=3)


@needs_root
def test_node_says_what_a_test_without_variant_lacks(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", pair=PAIR)
    pytester.makepyfile(
        """
        import pytest

        def test_events_need_a_variant(node):
            node("n1").events

        def test_no_such_node(node):
            with pytest.raises(KeyError, match="no node 'n9' in topology 'pair'"):
                node("n9")
        """
    )
    result = pytester.runpytest_subprocess("--topology", "pair.yaml")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*node('n1').events is per protocol variant: give the test a "
                                 "`variant` argument*"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.slow
@needs_root
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


def test_a_variant_marker_outside_the_selection_skips_with_the_reason(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.variant("coap-get")
        def test_only_for_coap_get(variant):
            raise AssertionError("must not run")

        def test_for_every_selected(variant):
            assert variant == "xmpp-iq"
        """
    )
    result = pytester.runpytest_subprocess("--variants", "xmpp-iq", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*the test is for coap-get; --variants selected xmpp-iq*"])
