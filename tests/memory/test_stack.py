"""Stack frames (.su) and call chains (.ci) as GCC writes them for C compiled here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from testbed.memory.stack import (CallGraph, StackUsageError, call_chains, parse_su,
                                  read_callgraph, stack_frames)

# leaf: 40-byte buffer; middle calls leaf and, through a pointer, whatever `hook` is; ping/pong
# recurse into each other; a static `init` in each file (GCC names it file:init); `ext` is
# compiled nowhere here (a library's function).
A_C = """
extern int ext(int);
int (*hook)(int);
int leaf(int x) { volatile char b[40]; b[x & 7] = x; return b[1]; }
static int init(int x) { volatile char b[8]; b[x & 3] = 1; return ext(b[2]); }
int middle(int x) { volatile char buf[100]; buf[x & 63] = x; return leaf(buf[3]) + hook(x) + init(x); }
int top(int x) { volatile char t[16]; t[x & 7] = 2; return middle(t[1]) + t[2]; }
"""
B_C = """
int pong(int n);
static int init(int x) { volatile char b[200]; b[x & 3] = 1; return b[2]; }
int ping(int n) { return n > 0 ? pong(n - 1) * 3 + init(n) : 1; }
int pong(int n) { return n > 0 ? ping(n - 2) * 5 : 2; }
"""


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("no Arm toolchain: apt-get install gcc-arm-none-eabi")
    folder = tmp_path_factory.mktemp("obj")
    for name, source in (("a.c", A_C), ("b.c", B_C)):
        (folder / name).write_text(source)
        subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m3", "-mthumb", "-O1", "-fno-inline",
                        "-fno-optimize-sibling-calls", "-fstack-usage", "-fcallgraph-info=su",
                        "-c", name], cwd=folder, check=True)
    return folder


def test_frames_are_gccs(objects: Path) -> None:
    frames = {f.function: f for f in stack_frames(objects)}
    assert set(frames) >= {"leaf", "middle", "top", "ping", "pong", "init"}
    assert frames["middle"].bytes >= 100 and frames["leaf"].bytes >= 40
    assert frames["middle"].qualifier == "static"
    assert frames["leaf"].source == "a.c" and frames["leaf"].line == 4
    assert [f.function for f in stack_frames(objects, functions={"leaf"})] == ["leaf"]


def test_chains_sum_frames_along_direct_calls_and_say_what_they_miss(objects: Path) -> None:
    frames = {(Path(f.source).name, f.function): f.bytes for f in stack_frames(objects)}
    chains = call_chains(read_callgraph(objects))
    top = chains["top"]
    assert top.path == ("top", "middle", "leaf")  # leaf (40+) outweighs a.c's init (8+)
    assert top.bytes == frames["a.c", "top"] + frames["a.c", "middle"] + frames["a.c", "leaf"]
    assert top.through_pointer and not top.recursive  # middle calls hook()
    assert top.unknown == ("ext",)  # below a.c's init, compiled nowhere here
    assert chains["leaf"].bytes == frames["a.c", "leaf"] and not chains["leaf"].through_pointer
    # the two static init()s stay apart: b.c's 200-byte one is not a.c's
    assert chains["a.c:init"].bytes == frames["a.c", "init"]
    assert chains["b.c:init"].bytes == frames["b.c", "init"]
    ping = chains["ping"]  # ping -> pong -> ping is cut, one turn; init (200+ bytes) is heavier
    assert ping.recursive and ping.path == ("ping", "init")
    assert ping.bytes == frames["b.c", "ping"] + frames["b.c", "init"]


def test_a_graph_written_by_hand() -> None:
    graph = CallGraph()
    graph.add_ci('graph: { title: "x.c"\n'
                 'node: { title: "f" label: "f\\nx.c:1:5\\n24 bytes (static)" }\n'
                 'node: { title: "x.c:g" label: "g\\nx.c:2:12\\n8 bytes (dynamic,bounded)" }\n'
                 'node: { title: "memcpy" label: "memcpy\\nx.c:3:1" shape : ellipse }\n'
                 'edge: { sourcename: "f" targetname: "x.c:g" label: "x.c:1:20" }\n'
                 'edge: { sourcename: "x.c:g" targetname: "memcpy" label: "x.c:2:20" }\n}\n')
    assert graph.frames == {"f": 24, "x.c:g": 8}
    chain = call_chains(graph)["f"]
    assert (chain.bytes, chain.path, chain.unknown) == (32, ("f", "g"), ("memcpy",))


def test_a_line_that_is_not_gccs_says_where() -> None:
    assert parse_su("x.c:3:5:f\t16\tstatic\n")[0].bytes == 16
    with pytest.raises(StackUsageError, match=r"bad\.su:2: not a -fstack-usage line"):
        parse_su("x.c:3:5:f\t16\tstatic\nnonsense\n", "bad.su")
