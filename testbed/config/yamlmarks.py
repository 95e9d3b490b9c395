"""YAML loading that remembers where every value came from.

PyYAML's `safe_load` throws the marks away, so a validation error could only say *what* is
wrong. Here a file is composed into YAML nodes (with libyaml's C parser when present), turned
into plain Python data by hand, and kept beside that data, so that a path such as
`("nodes", "n3", "platform")`, a pydantic `loc` or one of our own checks, can be walked back
to `file:line:col` (1-based, as editors count).

Two things PyYAML does not do and a topology file needs: a duplicate mapping key is an error
(PyYAML silently keeps the last one, so a node written twice would vanish), and every YAML
syntax error becomes a one-line `TopologyError` with its position.

This module knows nothing about topologies; it is only about YAML positions.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from testbed.errors import TopologyError

try:  # libyaml is several times faster; the pure-Python loader gives the same nodes and marks
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

PathElement = str | int
YamlPath = Sequence[PathElement]


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a source file: 1-based line and column, as editors and compilers print it."""

    source: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


def one_line(text: str) -> str:
    """Collapse a message onto one line: the CLI prints errors as exactly one line."""
    return " ".join(text.split())


def dotted(path: YamlPath) -> str:
    """`("nodes", "n3", "role")` -> `nodes.n3.role`; the empty path is the top level."""
    return ".".join(str(p) for p in path) if path else "(top level)"


def yaml_kind(value: Any) -> str:
    """What kind of YAML value `value` is, with its article: `a list`, `an int`, `an empty value`."""
    kind = {list: "list", dict: "mapping", str: "string", type(None): "empty value"}.get(
        type(value), type(value).__name__)
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def located_error(position: Position, path: YamlPath | str, message: str) -> TopologyError:
    """The one-line error every bad input gets: `file:line:col: dotted.path: what was expected`."""
    where = path if isinstance(path, str) else dotted(path)
    return TopologyError(one_line(f"{position}: {where}: {message}"))


@dataclass(slots=True)
class MarkedDocument:
    """A YAML document as plain data (`data`) plus the node tree that says where each value is."""

    source: str
    data: Any
    root: yaml.Node | None
    # id(MappingNode) -> [(constructed key, key node, value node)], in file order
    _pairs: dict[int, list[tuple[Any, yaml.Node, yaml.Node]]] = field(default_factory=dict)

    def position(self, path: YamlPath, *, key: bool = False) -> Position:
        """Where the value at `path` is (or, with `key=True`, the mapping key naming it).

        A path that leaves the document (a missing key, an index past the end) stops at the
        deepest node that exists: for a missing key that is the mapping that should hold it,
        which is where a person has to add it.
        """
        node = self.root
        if node is None:
            return Position(self.source, 1, 1)
        mark = node.start_mark
        for depth, element in enumerate(path):
            last = depth == len(path) - 1
            child, key_node = self._child(node, element)
            if child is None:
                break
            at_key = last and key and key_node is not None
            mark = key_node.start_mark if at_key else child.start_mark
            node = child
        return Position(self.source, mark.line + 1, mark.column + 1)

    def error(
        self, path: YamlPath, message: str, *, key: bool = False, shown: YamlPath | str | None = None
    ) -> TopologyError:
        """A `TopologyError` located at `path`; `shown` is the path to print if it differs."""
        return located_error(self.position(path, key=key), path if shown is None else shown, message)

    def _child(
        self, node: yaml.Node, element: PathElement
    ) -> tuple[yaml.Node | None, yaml.Node | None]:
        if isinstance(node, yaml.MappingNode):
            for constructed, key_node, value_node in self._pairs.get(id(node), ()):
                if constructed == element or str(constructed) == str(element):
                    return value_node, key_node
            return None, None
        if isinstance(node, yaml.SequenceNode) and isinstance(element, int):
            if 0 <= element < len(node.value):
                return node.value[element], None
        return None, None


def load_marked(text: str, source: str = "<string>") -> MarkedDocument:
    """Parse one YAML document, keeping marks; raise `TopologyError` on any YAML problem.

    Duplicate keys are reported at the second occurrence, with the line of the first.
    """
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise located_error(Position(source, line, column), "(yaml syntax)", f"{problem}{context}") from None
    except yaml.reader.ReaderError as exc:  # e.g. a control character in the file
        raise located_error(Position(source, 1, exc.position + 1), "(yaml syntax)", str(exc.reason)) from None
    except yaml.YAMLError as exc:
        raise located_error(Position(source, 1, 1), "(yaml syntax)", str(exc)) from None
    except UnicodeEncodeError as exc:  # a lone surrogate (text decoded with surrogateescape)
        lines = re.split(r"\r\n|\r|\n", text[:exc.start])  # YAML's line breaks (§5.4)
        raise located_error(Position(source, len(lines), len(lines[-1]) + 1), "(yaml syntax)",
                            f"character {text[exc.start]!r} is not Unicode text") from None
    document = MarkedDocument(source=source, data=None, root=root)
    if root is not None:
        document.data = _Converter(document).convert(root, ())
    return document


#: values one document may expand to, aliases included: far above any real topology or lab
MAX_VALUES = 100_000


class _Converter:
    """Turn composed YAML nodes into dicts, lists and scalars, recording mapping pairs."""

    def __init__(self, document: MarkedDocument) -> None:
        self.document = document
        self.scalars = SafeConstructor()
        self.in_progress: set[int] = set()
        self.values = 0

    def convert(self, node: yaml.Node, path: tuple[PathElement, ...]) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:  # aliases of aliases grow exponentially ("billion laughs")
            raise self._error(node, path, f"the document expands to more than {MAX_VALUES} "
                                          "values (aliases repeating aliases?)")
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self.in_progress:
            raise self._error(node, path, "an alias refers to a node that contains it (recursive YAML)")
        self.in_progress.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                self._check_tag(node, path, "tag:yaml.org,2002:seq")
                return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
            self._check_tag(node, path, "tag:yaml.org,2002:map")
            return self._mapping(node, path)
        finally:
            self.in_progress.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: tuple[PathElement, ...]) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_seen: dict[Any, yaml.Node] = {}
        pairs: list[tuple[Any, yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self._error(key_node, path, "a mapping key must be a plain value, not a list or mapping")
            key = self._scalar(key_node, path)
            if not isinstance(key, Hashable):  # pragma: no cover - scalars are hashable
                raise self._error(key_node, path, "a mapping key must be a plain value")
            if key in first_seen:
                first = first_seen[key].start_mark
                raise self._error(
                    key_node,
                    (*path, key),
                    f"duplicate key {key!r} (first defined at line {first.line + 1}, column {first.column + 1})",
                )
            first_seen[key] = key_node
            pairs.append((key, key_node, value_node))
            result[key] = self.convert(value_node, (*path, key))
        self.document._pairs[id(node)] = pairs
        return result

    def _scalar(self, node: yaml.ScalarNode, path: tuple[PathElement, ...]) -> Any:
        if node.tag not in SafeConstructor.yaml_constructors:
            raise self._error(node, path, f"unsupported YAML tag {node.tag!r}: only plain YAML data is read")
        try:
            return self.scalars.construct_object(node, deep=True)
        except ConstructorError as exc:
            raise self._error(node, path, one_line(exc.problem or str(exc))) from None
        except ValueError as exc:  # an int of > 4300 digits, a date such as 2026-13-45
            reason = one_line(str(exc)).split(";")[0]
            raise self._error(node, path, f"cannot read {node.value[:40]!r}: {reason}") from None

    def _check_tag(self, node: yaml.Node, path: tuple[PathElement, ...], expected: str) -> None:
        if node.tag != expected:
            raise self._error(node, path, f"unsupported YAML tag {node.tag!r}: only plain YAML data is read")

    def _error(self, node: yaml.Node, path: tuple[PathElement, ...], message: str) -> TopologyError:
        mark = node.start_mark
        position = Position(self.document.source, mark.line + 1, mark.column + 1)
        return located_error(position, path, message)


def did_you_mean(word: object, choices: Iterable[object]) -> str:
    """`; did you mean 'role'?` for the closest of `choices` to a misspelt `word`, else ''.
    The one hint rule for topology files, lab files and command-line names."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
