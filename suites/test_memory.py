"""What each protocol app costs a constrained node in memory: MicroPython bytecode (mpy-cross)
and heap on a real MicroPython (QEMU's micro:bit when installed, or the lab's board).

    pytest suites/test_memory.py --topology topologies/default.yaml
    pytest suites/test_memory.py --lab labs/qemu.yaml --backend lab     # the board tests too
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

APPS = ("coap-sensor", "xmpp-sensor")


@pytest.mark.parametrize("app", APPS)
def test_memory_figures_are_there_for_each_app(memory, app, results) -> None:
    figures = memory[app]
    assert figures.get("bytecode_error") is None
    assert 0 < figures["bytecode_bytes"] < figures["source_bytes"]  # compiled is smaller
    assert sum(m["bytecode_bytes"] for m in figures["modules"].values()) == figures["bytecode_bytes"]
    heap = figures["heap"]
    # measured on a board: it fits or not, and either way says how much it had and used
    assert heap["fits"] is not None and heap["heap_total"] > 0, heap
    assert heap["fits"] or heap["error"], heap  # a heap that was too small names the step
    # and on MicroPython 1.27 the smallest heap that works (memory/wasm.py bisection)
    current = figures["heap_127"]
    assert current["error"] is None, current
    assert 0 < current["after_import"] <= current["after_encode"] <= current["smallest_heap"]
    results.record("bytecode_bytes", figures["bytecode_bytes"], unit="B")
    results.record("smallest_heap_bytes", current["smallest_heap"], unit="B")


def test_the_coap_app_is_smaller_than_the_xmpp_app(memory) -> None:
    """No XML tokenizer, no SASL, no stream state: the CoAP sensor's bytecode is smaller."""
    assert memory["coap-sensor"]["bytecode_bytes"] < memory["xmpp-sensor"]["bytecode_bytes"]


@pytest.mark.needs_boards(micropython=1)
def test_the_board_playing_s1_runs_micropython(node, results) -> None:
    """The lab's board for s1 answers over the raw REPL and has heap to spare."""
    assert node("s1").exec("print(1+1)").strip() == "2"
    free = int(node("s1").exec("import gc\ngc.collect()\nprint(gc.mem_free())"))
    results.record("board_heap_free", free, unit="B")
    assert free > 0
