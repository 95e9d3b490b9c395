"""YAML positions: values walk back to 1-based line:col; duplicate keys and syntax errors are errors."""

from __future__ import annotations

import pytest

from testbed.config.yamlmarks import Position, dotted, load_marked, one_line
from testbed.errors import TopologyError

TEXT = """\
name: demo
radio: {channel: 26, pan_id: 0xabcd}
nodes:
  br:
    role: border-router
  n1:
links:
  - [br, n1, {prr: 0.9}]
"""


def test_data_is_plain_python() -> None:
    document = load_marked(TEXT, "demo.yaml")
    assert document.data == {
        "name": "demo",
        "radio": {"channel": 26, "pan_id": 0xABCD},
        "nodes": {"br": {"role": "border-router"}, "n1": None},
        "links": [["br", "n1", {"prr": 0.9}]],
    }


@pytest.mark.parametrize(
    ("path", "key", "line", "column"),
    [
        ((), False, 1, 1),
        (("name",), False, 1, 7),
        (("name",), True, 1, 1),
        (("radio", "pan_id"), False, 2, 30),
        (("nodes", "br", "role"), False, 5, 11),
        (("nodes", "n1"), True, 6, 3),
        (("links", 0, 2, "prr"), False, 8, 20),
        (("links", 0, 1), False, 8, 10),
        (("nodes", "n9", "role"), False, 4, 3),  # missing: the mapping that should hold it
        (("links", 5), False, 8, 3),  # past the end: the list
    ],
)
def test_position_of_a_path(path: tuple, key: bool, line: int, column: int) -> None:
    assert load_marked(TEXT, "demo.yaml").position(path, key=key) == Position("demo.yaml", line, column)


def test_duplicate_key_is_reported_at_the_second_with_the_first_line() -> None:
    with pytest.raises(TopologyError, match=r"^d\.yaml:3:3: nodes\.a: duplicate key 'a' \(first defined at line 2, column 3\)$"):
        load_marked("nodes:\n  a: 1\n  a: 2\n", "d.yaml")


def test_duplicate_key_in_a_flow_mapping() -> None:
    with pytest.raises(TopologyError, match=r"^d\.yaml:1:22: radio\.channel: duplicate key 'channel' \(first defined at line 1, column 9\)"):
        load_marked("radio: {channel: 11, channel: 12}\n", "d.yaml")


def test_syntax_error_has_line_and_column() -> None:
    with pytest.raises(TopologyError, match=r"^s\.yaml:2:1: \(yaml syntax\): did not find expected ',' or ']'"):
        load_marked("a: [1, 2\n", "s.yaml")


def test_tabs_are_a_syntax_error_with_a_position() -> None:
    with pytest.raises(TopologyError, match=r"^t\.yaml:2:1: \(yaml syntax\): "):
        load_marked("a:\n\tb: 1\n", "t.yaml")


def test_arbitrary_python_tags_are_refused() -> None:
    with pytest.raises(TopologyError, match=r"^p\.yaml:1:4: x: unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'"):
        load_marked("x: !!python/object/apply:os.system [true]\n", "p.yaml")


def test_recursive_alias_is_an_error_not_a_hang() -> None:
    with pytest.raises(TopologyError, match=r"recursive YAML"):
        load_marked("a: &loop [*loop]\n", "r.yaml")


def test_aliases_and_empty_documents() -> None:
    assert load_marked("a: &x {b: 1}\nc: *x\n").data == {"a": {"b": 1}, "c": {"b": 1}}
    assert load_marked("").data is None
    assert load_marked("", "e.yaml").position(("a",)) == Position("e.yaml", 1, 1)


def test_helpers() -> None:
    assert dotted(("nodes", "n1", "role")) == "nodes.n1.role"
    assert dotted(("links", 0)) == "links.0"
    assert dotted(()) == "(top level)"
    assert one_line("a\n  b\tc") == "a b c"


def test_a_lone_surrogate_is_a_located_error() -> None:
    # fuzz_parsers.py: text decoded with surrogateescape reached libyaml, which raised
    # UnicodeEncodeError; now it is the one-line error with line and column
    with pytest.raises(TopologyError, match=r"^t\.yaml:2:3: \(yaml syntax\): character "
                                            r"'\\udcff' is not Unicode text"):
        load_marked("name: x\rno\udcffdes: {}\n", "t.yaml")


@pytest.mark.parametrize("value, reason", [
    ("9" * 5000, "Exceeds the limit"),  # fuzz_parsers.py: was a bare ValueError
    ("2026-13-45", "month must be in 1..12"),
])
def test_a_scalar_python_cannot_hold_is_a_located_error(value: str, reason: str) -> None:
    with pytest.raises(TopologyError, match=rf"^t\.yaml:2:4: a: cannot read .*: {reason}"):
        load_marked(f"name: x\na: {value}\n", "t.yaml")


def test_aliases_of_aliases_stop_at_a_bound_not_after_minutes() -> None:
    # fuzz_parsers.py: "billion laughs", nine aliases of nine aliases seven deep, took 45 s
    # (and the memory of 9**8 values) before the converter counted what it expands to
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 8))
    with pytest.raises(TopologyError, match="expands to more than 100000 values"):
        load_marked(text, "t.yaml")
