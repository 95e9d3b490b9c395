"""Happy paths of the topology models: defaults, addresses, neighbours, unit disk, immutability."""

from __future__ import annotations

import ipaddress
import subprocess
import sys

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from testbed.config.topology import (
    Addressing,
    Link,
    Node,
    Platform,
    Radio,
    Role,
    Topology,
    parse_topology,
)
from testbed.errors import TopologyError

MINIMAL = """\
name: tiny
nodes:
  br: {role: border-router}
  n1:
links:
  - [br, n1]
"""


def test_defaults_fill_everything_not_written() -> None:
    topology = parse_topology(MINIMAL)
    assert topology.name == "tiny"
    assert topology.radio == Radio()
    assert topology.radio.channel == 26
    assert topology.radio.pan_id == 0xABCD
    assert topology.radio.addressing is Addressing.SHORT
    assert topology.radio.prefix == ipaddress.IPv6Network("fd00::/64")
    assert topology.radio.range is None
    assert topology.radio.queue == 16
    assert topology.cloud.prefix == ipaddress.IPv6Network("fd01::/64")
    n1 = topology.nodes["n1"]
    assert (n1.name, n1.role, topology.platform_of("n1"), n1.position, n1.short_address) == (
        "n1", Role.SENSOR, Platform.EMULATED, None, None,
    )
    assert topology.links == (Link(a="br", b="n1", prr=1.0),)
    assert topology.source is None
    assert topology.border_router == "br"


def test_pan_id_accepts_integer_yaml_hex_and_hex_string() -> None:
    for written in ("43981", "0xabcd", "'0xABCD'"):
        text = MINIMAL.replace("nodes:", f"radio: {{pan_id: {written}}}\nnodes:")
        assert parse_topology(text).radio.pan_id == 0xABCD


def test_three_link_forms_give_the_same_links() -> None:
    head = "name: forms\nnodes:\n  br: {role: border-router}\n  n1: {}\n  n2: {}\nlinks:\n"
    lists = parse_topology(head + "  - [br, n1]\n  - [n1, n2, {prr: 0.9}]\n")
    mappings = parse_topology(head + "  - {a: br, b: n1}\n  - {a: n1, b: n2, prr: 0.9}\n")
    assert lists.links == mappings.links == (Link(a="br", b="n1"), Link(a="n1", b="n2", prr=0.9))


def test_short_addresses_follow_file_order_unless_given() -> None:
    text = (
        "name: addr\nnodes:\n  br: {role: border-router}\n  n1: {short_address: 0x10}\n  n2: {}\n"
        "  n3: {short_address: 7}\nlinks:\n  - [br, n1]\n  - [br, n2]\n  - [br, n3]\n"
    )
    topology = parse_topology(text)
    assert [topology.short_address(n) for n in topology.nodes] == [1, 0x10, 3, 7]
    assert list(topology.nodes) == ["br", "n1", "n2", "n3"], "nodes keep file order"


def test_neighbours_are_symmetric_with_the_link_prr() -> None:
    text = MINIMAL.replace("links:\n  - [br, n1]\n", "") + "  n2: {}\nlinks:\n  - [br, n1]\n  - [n2, n1, {prr: 0.7}]\n"
    topology = parse_topology(text)
    assert topology.neighbours("br") == {"n1": 1.0}
    assert topology.neighbours("n1") == {"br": 1.0, "n2": 0.7}
    assert topology.neighbours("n2") == {"n1": 0.7}
    with pytest.raises(KeyError):
        topology.neighbours("n9")


def test_unit_disk_links_from_positions_within_range() -> None:
    text = (
        "name: disk\nradio: {range: 10}\nnodes:\n"
        "  br: {role: border-router, position: [0, 0]}\n"
        "  n1: {position: [10, 0]}\n"      # exactly at range: heard
        "  n2: {position: [10, 10.5]}\n"   # 10.5 from n1, 14.7 from br: only via... nobody
        "  n3: {position: [10, 0, 9]}\n"   # 3-D: 9 above n1, 13.5 from br
    )
    with pytest.raises(TopologyError, match=r"nodes\.n2: n2 cannot reach the border router 'br': it has no link"):
        parse_topology(text, "disk.yaml")
    topology = parse_topology(text.replace("[10, 10.5]", "[10, 9.5]"))
    assert topology.radio_links() == (
        Link(a="br", b="n1"), Link(a="n1", b="n2"), Link(a="n1", b="n3"),
    )
    assert topology.neighbours("n1") == {"br": 1.0, "n2": 1.0, "n3": 1.0}
    assert topology.links == (), "the file had no links; the effective ones are computed"


def test_explicit_links_win_over_range() -> None:
    text = MINIMAL.replace("nodes:", "radio: {range: 1}\nnodes:")
    assert parse_topology(text).radio_links() == (Link(a="br", b="n1"),)


def test_models_are_frozen() -> None:
    topology = parse_topology(MINIMAL)
    with pytest.raises(ValidationError, match="frozen"):
        topology.name = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        topology.radio.channel = 11  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        topology.nodes["br"].role = Role.SENSOR  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        topology.links[0].prr = 0.5  # type: ignore[misc]


def test_models_built_in_code_are_checked_too() -> None:
    nodes = {"br": Node(name="br", role=Role.BORDER_ROUTER), "n1": Node(name="n1")}
    with pytest.raises(ValidationError, match=r"links\.0\.b: unknown node 'n2'"):
        Topology(name="code", nodes=nodes, links=(Link(a="br", b="n2"),))
    with pytest.raises(ValidationError, match="unknown key|Extra inputs"):
        Radio(chanel=11)  # type: ignore[call-arg]
    ok = Topology(name="code", nodes=nodes, links=(Link(a="br", b="n1", prr=0.5),))
    assert ok.neighbours("n1") == {"br": 0.5}


def test_load_topology_records_the_source(tmp_path) -> None:
    from testbed.config.topology import load_topology

    path = tmp_path / "t.yaml"
    path.write_text(MINIMAL)
    assert load_topology(path).source == path
    assert load_topology(str(path)) == load_topology(path)


def test_config_imports_nothing_outside_config_and_errors() -> None:
    code = (
        "import sys; import testbed.config.topology, testbed.config.routes, testbed.config.generate;"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('testbed', 'scapy')))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert all(m == "testbed" or m.startswith(("testbed.config", "testbed.errors")) for m in out), out


# --- property tests: what is written is what is read; nothing but TopologyError escapes -----

names = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,11}", fullmatch=True), min_size=1, max_size=8, unique=True)


@settings(max_examples=60, deadline=None)
@given(names=names, data=st.data())
def test_written_topology_reads_back(names: list[str], data: st.DataObject) -> None:
    """A random valid tree (each node links to an earlier one) survives YAML text unchanged."""
    prrs = [data.draw(st.floats(min_value=0.01, max_value=1.0)) for _ in names[1:]]
    parents = [data.draw(st.integers(min_value=0, max_value=i)) for i in range(len(names) - 1)]
    channel = data.draw(st.integers(11, 26))
    pan_id = data.draw(st.integers(0, 0xFFFE))
    document = {
        "name": "prop",
        "radio": {"channel": channel, "pan_id": f"{pan_id:#06x}"},
        "nodes": {n: ({"role": "border-router"} if i == 0 else {}) for i, n in enumerate(names)},
        "links": [[names[p], names[i + 1], {"prr": prr}] for i, (p, prr) in enumerate(zip(parents, prrs))],
    }
    topology = parse_topology(yaml.safe_dump(document, sort_keys=False))
    assert list(topology.nodes) == names
    assert (topology.radio.channel, topology.radio.pan_id) == (channel, pan_id)
    assert [(l.a, l.b, l.prr) for l in topology.links] == [(a, b, o["prr"]) for a, b, o in document["links"]]
    assert topology.border_router == names[0]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abr n1:{}[],-\n0.9#'\"&*!|>")), max_size=80))
def test_any_text_gives_a_topology_or_one_located_line(text: str) -> None:
    try:
        parse_topology(MINIMAL + text, "fuzz.yaml")
    except TopologyError as exc:
        message = str(exc)
        assert "\n" not in message
        assert message.startswith("fuzz.yaml:")
        line, column = message.split(":")[1:3]
        assert int(line) >= 1 and int(column) >= 1


def test_platform_is_the_topologys_unless_a_node_names_its_own() -> None:
    topo = parse_topology("name: c\nplatform: contiki\nnodes:\n  br: {role: border-router}\n"
                          "  s1: {}\n  s2: {platform: contiki}\nlinks:\n  - [br, s1]\n  - [s1, s2]\n")
    assert [topo.platform_of(n) for n in topo.nodes] == [Platform.CONTIKI] * 3
    assert topo.pan_platform is Platform.CONTIKI
    default = parse_topology("name: d\nnodes:\n  br: {role: border-router}\n  s1: {}\n"
                             "links:\n  - [br, s1]\n")
    assert default.pan_platform is Platform.EMULATED
    assert default.nodes["s1"].platform is None


def test_on_platform_moves_every_node_and_keeps_the_rest() -> None:
    topo = parse_topology("name: m\nnodes:\n  br: {role: border-router}\n  s1: {platform: emulated}\n"
                          "links:\n  - [br, s1, {prr: 0.9}]\n")
    moved = topo.on_platform("contiki")
    assert [moved.platform_of(n) for n in moved.nodes] == [Platform.CONTIKI, Platform.CONTIKI]
    assert moved.links == topo.links and moved.radio == topo.radio
    assert moved.on_platform(Platform.EMULATED).pan_platform is Platform.EMULATED
