"""What each delivered reading must carry, and the deliveries that do not.

The value of reading `seq` is a function of (node, sensor, seq, seed) only: nodes/common/
reading.py's `reading_value`. It is loaded here from the node apps' own file rather than
copied (the Python apps import that file, the C apps mirror it in nodes/contiki/common/
reading.c and tests/contiki/test_reading.py holds the two equal), so a sink's delivery is
checked against the very formula the firmware uses: a wrong value (a codec or a sink that
mangles it, a firmware whose formula drifted) or a payload that names another node (the
sinks record `claimed_node`) is a mismatch, counted in results.json `readings.mismatched`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from functools import cache

from testbed.firmware import nodes_dir
from testbed.services.deliveries import Delivery

#: values travel with one decimal (20.0 .. 29.9); a codec may round the last bit of a float
TOLERANCE = 0.05


@cache
def reading_value() -> Callable[[str, str, int, int], float]:
    path = nodes_dir() / "common" / "reading.py"
    spec = importlib.util.spec_from_file_location("_node_reading", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reading_value


def mismatch(delivery: Delivery, seed: int) -> str | None:
    """Why `delivery` is not the reading its node made, or None when it is."""
    if delivery.claimed_node is not None and delivery.claimed_node != delivery.node:
        return f"the payload names {delivery.claimed_node!r}"
    if delivery.sensor is None or not isinstance(delivery.value, int | float):
        return None  # nothing to check it against (a format without the value)
    want = reading_value()(delivery.node, delivery.sensor, delivery.seq, seed)
    if abs(float(delivery.value) - want) > TOLERANCE:
        return f"value {delivery.value} where {delivery.node}'s reading {delivery.seq} is {want}"
    return None


def mismatches(deliveries: Iterable[Delivery], seed: int) -> list[tuple[Delivery, str]]:
    return [(d, why) for d in deliveries if (why := mismatch(d, seed)) is not None]
