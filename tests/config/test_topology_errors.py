"""Every way a topology file can be wrong gets one line: file:line:col: path: what was expected.

Each case is a small file written to disk, loaded with `load_topology`, and must fail at the
exact line and column of the value (or key) at fault, with a message a person recognises.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from testbed.config.topology import load_topology, parse_topology
from testbed.errors import BadInput, TopologyError

OK_NODES = """\
nodes:
  br: {role: border-router}
  n1: {}
"""
OK_LINKS = """\
links:
  - [br, n1]
"""

# (id, file text, line, column, message pattern after "file:line:col: ")
CASES = [
    ("yaml-syntax", "name: x\nnodes: {br: [1, 2}\n", 2, 18, r"\(yaml syntax\): did not find expected"),
    ("yaml-bad-indent", "name: x\nnodes:\n  br: {}\n n1: {}\n", 4, 2, r"\(yaml syntax\): "),
    ("top-not-mapping", "- br\n- n1\n", 1, 1, r"\(top level\): expected a mapping with keys name, .* \(got a list\)"),
    ("empty-file", "# nothing here\n", 1, 1, r"\(top level\): expected a mapping .* \(got an empty file\)"),
    ("missing-name", OK_NODES + OK_LINKS, 1, 1, r"name: required key 'name' is missing"),
    ("bad-topology-name", "name: 'lab[/b] one'\n" + OK_NODES + OK_LINKS, 1, 7,
     r"name: expected a topology name of 1\.\.64 characters"),
    ("contiki-beside-linux", "name: x\nplatform: contiki\nnodes:\n  br: {role: border-router}\n"
     "  n1: {platform: emulated}\n" + OK_LINKS, 5, 18,
     r"nodes\.n1\.platform: n1 runs emulated but the border router 'br' runs contiki: Contiki and "
     r"Linux nodes cannot share a PAN"),
    ("linux-beside-contiki-br", "name: x\nnodes:\n  br: {role: border-router, platform: contiki}\n"
     "  n1: {}\n" + OK_LINKS, 4, 3, r"nodes\.n1: n1 runs emulated but the border router 'br' runs contiki"),
    ("bad-platform", "name: x\nplatform: contki\n" + OK_NODES + OK_LINKS, 2, 11,
     r"platform: expected one of emulated, micropython, contiki \(got 'contki'\); did you mean 'contiki'\?"),
    ("unknown-top-key", "name: x\n" + OK_NODES + "lnks:\n  - [br, n1]\n", 5, 1,
     r"lnks: unknown key 'lnks'; did you mean 'links'\?"),
    ("unknown-node-key", "name: x\nnodes:\n  br: {role: border-router}\n  n1: {rol: sensor}\n" + OK_LINKS, 4, 8,
     r"nodes\.n1\.rol: unknown key 'rol'; did you mean 'role'\?"),
    ("unknown-radio-key", "name: x\nradio:\n  channel: 26\n  pan-id: 0xabcd\n" + OK_NODES + OK_LINKS, 4, 3,
     r"radio\.pan-id: unknown key 'pan-id'; did you mean 'pan_id'\?"),
    ("bad-channel", "name: x\nradio: {channel: 27}\n" + OK_NODES + OK_LINKS, 2, 18,
     r"radio\.channel: expected a 2\.4 GHz channel 11\.\.26 \(got 27\)"),
    ("pan-id-too-big", "name: x\nradio: {pan_id: 0x1ffff}\n" + OK_NODES + OK_LINKS, 2, 17,
     r"radio\.pan_id: expected a 16-bit PAN ID 0x0000\.\.0xfffe.*\(got 131071\)"),
    ("pan-id-bad-hex", "name: x\nradio: {pan_id: '0xabcg'}\n" + OK_NODES + OK_LINKS, 2, 17,
     r"radio\.pan_id: expected a 16-bit PAN ID .*\(got '0xabcg'\)"),
    ("pan-id-broadcast", "name: x\nradio: {pan_id: 0xffff}\n" + OK_NODES + OK_LINKS, 2, 17,
     r"radio\.pan_id: expected a 16-bit PAN ID 0x0000\.\.0xfffe"),
    ("unknown-role", "name: x\nnodes:\n  br: {role: border-router}\n  n1: {role: gateway}\n" + OK_LINKS, 4, 14,
     r"nodes\.n1\.role: expected one of border-router, router, sensor \(got 'gateway'\)"),
    ("unknown-platform", "name: x\nnodes:\n  br: {role: border-router}\n  n1: {platform: contikki}\n" + OK_LINKS,
     4, 18, r"nodes\.n1\.platform: expected one of emulated, micropython, contiki .*did you mean 'contiki'\?"),
    ("bad-node-name", "name: x\nnodes:\n  br: {role: border-router}\n  Node_1: {}\nlinks:\n  - [br, Node_1]\n",
     4, 3, r"nodes\.Node_1: expected a node name of 1\.\.12 characters a-z, 0-9 and '-'"),
    ("node-name-too-long", "name: x\nnodes:\n  br: {role: border-router}\n  temperature-1: {}\n"
     "links:\n  - [br, temperature-1]\n", 4, 3, r"nodes\.temperature-1: expected a node name of 1\.\.12"),
    ("reserved-node-name", "name: x\nnodes:\n  br: {role: border-router}\n  cloud: {}\n"
     "links:\n  - [br, cloud]\n", 4, 3, r"nodes\.cloud: expected another name: 'cloud' is the namespace"),
    ("duplicate-node", "name: x\nnodes:\n  br: {role: border-router}\n  n1: {}\n  n1: {role: router}\n" + OK_LINKS,
     5, 3, r"nodes\.n1: duplicate key 'n1' \(first defined at line 4, column 3\)"),
    ("link-unknown-node", "name: x\n" + OK_NODES + "links:\n  - [br, n11]\n", 6, 10,
     r"links\.0\.b: unknown node 'n11'; did you mean 'n1'\? \(nodes are br, n1\)"),
    ("link-unknown-node-mapping", "name: x\n" + OK_NODES + "links:\n  - {a: brr, b: n1}\n", 6, 9,
     r"links\.0\.a: unknown node 'brr'; did you mean 'br'\?"),
    ("link-same-node", "name: x\n" + OK_NODES + "links:\n  - [br, n1]\n  - [n1, n1]\n", 7, 10,
     r"links\.1\.b: a link joins two different nodes \(got 'n1' twice\)"),
    ("duplicate-link", "name: x\n" + OK_NODES + "links:\n  - [br, n1]\n  - [n1, br, {prr: 0.5}]\n", 7, 5,
     r"links\.1: duplicate link n1 - br \(already links\.0; links are undirected\)"),
    ("prr-above-one", "name: x\n" + OK_NODES + "links:\n  - [br, n1, {prr: 1.5}]\n", 6, 20,
     r"links\.0\.prr: expected a packet reception ratio 0 < prr <= 1 \(got 1\.5\)"),
    ("prr-zero", "name: x\n" + OK_NODES + "links:\n  - {a: br, b: n1, prr: 0}\n", 6, 25,
     r"links\.0\.prr: expected a packet reception ratio 0 < prr <= 1 \(got 0\)"),
    ("prr-not-a-number", "name: x\n" + OK_NODES + "links:\n  - [br, n1, {prr: high}]\n", 6, 20,
     r"links\.0\.prr: expected a number, the packet reception ratio .*\(got 'high'\)"),
    ("link-wrong-shape", "name: x\n" + OK_NODES + "links:\n  - [br, n1, 0.9]\n", 6, 5,
     r"links\.0: expected a link \[a, b\] or \[a, b, \{prr: 0\.9\}\]"),
    ("unknown-link-key", "name: x\n" + OK_NODES + "links:\n  - [br, n1, {pr: 0.9}]\n", 6, 15,
     r"links\.0\.pr: unknown key 'pr'; did you mean 'prr'\?"),
    ("no-border-router", "name: x\nnodes:\n  br: {}\n  n1: {}\n" + OK_LINKS, 3, 3,
     r"nodes: expected exactly one node with role: border-router, found none"),
    ("two-border-routers", "name: x\nnodes:\n  br: {role: border-router}\n  n1: {role: border-router}\n"
     + OK_LINKS, 4, 14, r"nodes\.n1\.role: expected exactly one border-router, but 'br' is one already"),
    ("unreachable-no-link", "name: x\nnodes:\n  br: {role: border-router}\n  n1: {}\n  n2: {}\n" + OK_LINKS,
     5, 3, r"nodes\.n2: n2 cannot reach the border router 'br': it has no link"),
    ("unreachable-island", "name: x\nnodes:\n  br: {role: border-router}\n  n1: {}\n  n2: {}\n  n3: {}\n"
     "links:\n  - [br, n1]\n  - [n2, n3]\n", 5, 3,
     r"nodes\.n2: n2 cannot reach the border router 'br': it reaches only n3"),
    ("range-without-position", "name: x\nradio: {range: 10}\nnodes:\n  br: {role: border-router, position: [0, 0]}\n"
     "  n1: {}\n", 5, 3, r"nodes\.n1: radio\.range is set .* every node needs a position \[x, y\]; n1 has none"),
    ("range-not-positive", "name: x\nradio: {range: -1}\n" + OK_NODES + OK_LINKS, 2, 16,
     r"radio\.range: expected a unit-disk range in metres > 0 \(got -1\)"),
    ("position-one-number", "name: x\nnodes:\n  br: {role: border-router, position: [0]}\n  n1: {}\n" + OK_LINKS,
     3, 39, r"nodes\.br\.position: expected a position of 2 or 3 numbers, \[x, y\] or \[x, y, z\]"),
    # fuzz_parsers.py: math.isfinite(10**400) raised OverflowError out of the validator
    ("position-beyond-float", "name: x\nnodes:\n  br: {role: border-router, position: [1" + "0" * 400
     + ", 0]}\n  n1: {}\n" + OK_LINKS, 3, 39, r"nodes\.br\.position: expected a position of 2 or 3"),
    ("range-beyond-float", "name: x\nradio: {range: 1" + "0" * 400 + "}\nnodes:\n  br: {}\n  n1: {}\n"
     + OK_LINKS, 2, 16, r"radio\.range: expected .* > 0"),
    ("position-not-numbers", "name: x\nnodes:\n  br: {role: border-router, position: [a, b]}\n  n1: {}\n"
     + OK_LINKS, 3, 39, r"nodes\.br\.position: expected a position of 2 or 3 numbers, .*\(got \['a', 'b'\]\)"),
    ("duplicate-short-address", "name: x\nnodes:\n  br: {role: border-router, short_address: 5}\n"
     "  n1: {short_address: 5}\n" + OK_LINKS, 4, 23,
     r"nodes\.n1\.short_address: duplicate short address 0x0005: 'br' has it already"),
    ("short-address-clashes-file-order", "name: x\nnodes:\n  br: {role: border-router, short_address: 2}\n"
     "  n1: {}\n" + OK_LINKS, 4, 3, r"nodes\.n1: duplicate short address 0x0002: 'br' has it already"),
    ("short-address-out-of-range", "name: x\nnodes:\n  br: {role: border-router, short_address: 0xffff}\n"
     "  n1: {}\n" + OK_LINKS, 3, 44, r"nodes\.br\.short_address: expected a 16-bit short address 1\.\.0xfffd"),
    ("prefix-not-64", "name: x\nradio: {prefix: 'fd00::/48'}\n" + OK_NODES + OK_LINKS, 2, 17,
     r"radio\.prefix: expected an IPv6 /64 prefix such as fd00::/64 \(got a /48"),
    ("prefix-not-ipv6", "name: x\ncloud: {prefix: 10.0.0.0/24}\n" + OK_NODES + OK_LINKS, 2, 17,
     r"cloud\.prefix: expected an IPv6 /64 prefix .*\(got '10\.0\.0\.0/24'\)"),
    ("no-links-no-range", "name: x\n" + OK_NODES, 1, 1, r"links: no links: give `links`, or radio\.range"),
    ("nodes-not-a-mapping", "name: x\nnodes:\n  - br\n  - n1\n", 3, 3, r"nodes: expected a mapping \(got a list\)"),
    ("node-not-a-mapping", "name: x\nnodes:\n  br: 5\n  n1: {}\n" + OK_LINKS, 3, 7,
     r"nodes\.br: expected a mapping \(got an int\)"),
    ("node-name-key-inside", "name: x\nnodes:\n  br: {role: border-router, name: gw}\n  n1: {}\n" + OK_LINKS, 3, 29,
     r"nodes\.br\.name: unknown key 'name': a node's name is its key"),
    ("python-tag", "name: !!python/object:os.system x\n" + OK_NODES + OK_LINKS, 1, 7,
     r"name: unsupported YAML tag 'tag:yaml.org,2002:python/object:os.system'"),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_names_file_line_column_path_and_expectation(
    tmp_path: Path, text: str, line: int, column: int, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TopologyError, match=rf"^{re.escape(str(path))}:{line}:{column}: {message}") as caught:
        load_topology(path)
    assert "\n" not in str(caught.value), "the CLI prints a topology error as exactly one line"


def test_enough_distinct_error_kinds_are_covered() -> None:
    assert len(CASES) >= 20


def test_topology_error_is_bad_input_so_the_cli_exits_with_status_2() -> None:
    with pytest.raises(BadInput) as caught:
        parse_topology("name: [", "x.yaml")
    assert caught.value.exit_status == 2
    assert str(caught.value).startswith("x.yaml:")


def test_first_error_in_the_file_is_reported(tmp_path: Path) -> None:
    text = "name: x\nradio: {channel: 5}\nnodes:\n  br: {role: border-router}\n  n1: {role: sensr}\n" + OK_LINKS
    with pytest.raises(TopologyError, match=r":2:18: radio\.channel: "):
        parse_topology(text, "two-errors.yaml")


def test_unreadable_file_says_which(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(TopologyError, match=rf"^{re.escape(str(missing))}: cannot read topology file"):
        load_topology(missing)


def test_non_utf8_file_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(TopologyError, match=r"not UTF-8 text \(byte offset 9\)"):
        load_topology(path)
