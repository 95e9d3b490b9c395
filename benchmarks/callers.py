"""Public functions of testbed/ that nothing but the tests calls, each with why it stays.

Not a benchmark: run `python benchmarks/callers.py`. A name counts as called when it appears
as a name, an attribute or an import in the package, the node apps, the lab suites (suites/,
user code of the pytest plugin), the Makefile or a report template. Functions a framework
calls (decorated: typer commands, pytest fixtures and hooks; pytest_* hooks; asyncio
protocol callbacks) are callers' business, not ours. Names are matched, not resolved: two
functions of one name count as one, so the list can miss a dead function but not invent one.

tests/test_callers.py fails when a public function is called by tests only and is not in
JUSTIFIED, or when a JUSTIFIED entry has found a caller (or gone): the list stays true.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: asyncio.DatagramProtocol / Protocol callbacks: the event loop calls them
FRAMEWORK_METHODS = {"connection_made", "connection_lost", "datagram_received", "data_received",
                     "error_received", "eof_received"}

#: name -> why it stays although only tests (or benchmarks) call it
JUSTIFIED = {
    "to_frames": "the 6LoWPAN adapter's one-call fragmenting path; the codec benchmark and "
                 "the capture tests build frames with it (the medium fragments per datagram)",
    "encode_hello": "the frame port's node side is C (nodes/contiki); the Python encoders let "
                    "a test speak as a node",
    "encode_tx": "as encode_hello",
    "get_channel": "sensniff's GET command, answered by the pty sniffer; `testbed sniff` only "
                   "sets the channel",
    "channel_range": "as get_channel (CMD_GET_CHANNEL_MIN/MAX)",
    "path_to_root": "the route tree's query for a node's path to the border router; the "
                    "topology examples' routes are checked with it",
    "serve_argv": "how a lab wires a native board process by hand (docs); the lab path "
                  "starts boards through the same module",
    "recorded": "the `results` fixture's API for lab suites: what a test recorded so far",
    "write_pcap": "one call from frames to a pcap (runs stream into FrameSink instead)",
    "hold": "called by name: native_board's command line dispatches its subcommand with "
            "getattr (the lab's `quiet:` argv runs `hold`)",
    "wait_done": "XmppSink's API for one node outside a comparison (the scenario waits on "
                 "deliveries instead)",
}


def package_files(*dirs: str) -> list[Path]:
    return [p for d in dirs for p in sorted((ROOT / d).rglob("*.py"))
            if "__pycache__" not in p.parts and "tests" not in p.relative_to(ROOT).parts[1:]]


def public_functions() -> dict[str, list[str]]:
    """name -> ["testbed/x.py:12", ...] of every public function and method not called by a
    framework."""
    found: dict[str, list[str]] = {}

    def add(node: ast.AST, path: Path) -> None:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return
        if node.name.startswith("_") or node.name.startswith("pytest_"):
            return
        if node.decorator_list and not all(_is_property(d) for d in node.decorator_list):
            return  # registered with a framework (command, fixture, hook)
        if node.name in FRAMEWORK_METHODS:
            return
        found.setdefault(node.name, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")

    for path in package_files("testbed"):
        for node in ast.parse(path.read_text()).body:
            add(node, path)
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                for member in node.body:
                    add(member, path)
    return found


def _is_property(decorator: ast.expr) -> bool:
    return isinstance(decorator, ast.Name) and decorator.id in ("property", "staticmethod",
                                                                "classmethod", "cache")


def names_used(files: list[Path]) -> set[str]:
    names: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.alias):
                names.add(node.name.rsplit(".", 1)[-1])
    return names


def test_only() -> dict[str, list[str]]:
    """The public functions no runtime code calls: name -> where they are defined."""
    runtime = names_used(package_files("testbed", "nodes", "suites"))
    text = (ROOT / "Makefile").read_text() + "".join(
        p.read_text() for p in (ROOT / "testbed").rglob("*.j2"))
    return {name: where for name, where in public_functions().items()
            if name not in runtime and not re.search(rf"\b{re.escape(name)}\b", text)}


def main() -> int:
    unused = test_only()
    for name, where in sorted(unused.items()):
        print(f"{name:<20} {', '.join(where)}\n{'':<20} {JUSTIFIED.get(name, 'NOT JUSTIFIED')}")
    return 1 if set(unused) - set(JUSTIFIED) else 0


if __name__ == "__main__":
    sys.exit(main())
