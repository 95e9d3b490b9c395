"""Shared by the Contiki-NG tests: the one slow wait they have, started early.

The never-acknowledging observer of test_coap_sensor.py waits out the CoAP engine's timers
(COAP_RESPONSE_TIMEOUT is 3 s, a compile-time constant of os/net/app-layer/coap, not
overridable from project-conf.h: 93 to 140 s in all). It starts with the first Contiki test
and its test runs last of them, so the other Contiki tests run while it waits.
"""

from __future__ import annotations

import sys
import threading

import pytest

from ._native import NativeNode, build

NEVER_ACK_TEST = "test_an_observer_that_never_acknowledges_is_dropped_with_an_error"

# A CoAP client that registers as an observer of /sensors/temperature and never acknowledges a
# notification: it prints its port, then every datagram it gets, until five CONs came.
NEVER_ACK = """
import socket, sys
get = bytes([0x41, 0x01, 0x22, 0x22, 0x7e, 0x60, 0x57]) + b"sensors" + bytes([0x0b])
get += b"temperature"
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", 0))
print(s.getsockname()[1], flush=True)
s.settimeout(90)
s.sendto(get, (sys.argv[1], 5683))
copies = 0
while copies < 5:
    data = s.recv(1500)
    print(data.hex(), flush=True)
    copies += data[0] >> 4 & 3 == 0  # a CON: the notification, not the registration's ACK
"""


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The never-acknowledging observer's test goes after the last other Contiki test."""
    waiting = [item for item in items if item.name == NEVER_ACK_TEST]
    if not waiting:
        return
    others = [item for item in items if item not in waiting]
    contiki = [i for i, item in enumerate(others) if "tests/contiki/" in item.nodeid]
    at = contiki[-1] + 1 if contiki else len(others)
    items[:] = others[:at] + waiting + others[at:]


@pytest.fixture(scope="session", autouse=True)
def unacknowledged_observer(request: pytest.FixtureRequest):
    """The observing node and client, started when the first Contiki test starts (if the
    test is selected). The node is up before that test's leak check looks, so its namespace
    is no leak of that test; the test removes it, or this tear-down does."""
    if not any(item.name == NEVER_ACK_TEST for item in request.session.items):
        yield None
        return
    from .test_coap_sensor import BASE  # the module's own node configuration

    node = NativeNode(build("coap-sensor"),
                      {**BASE, "OBSERVE": "con", "READINGS": "1", "INTERVAL_MS": "200"})
    node.__enter__()
    outcome: dict[str, object] = {}

    def observe() -> None:
        try:
            outcome["client"] = node.run([sys.executable, "-c", NEVER_ACK, str(node.address)],
                                         timeout_s=200)
        except BaseException as error:  # noqa: BLE001 - handed to the test, which raises it
            outcome["error"] = error

    waiter = threading.Thread(target=observe, daemon=True)
    waiter.start()
    try:
        yield node, waiter, outcome
    finally:
        waiter.join(timeout=200)
        node.stop()
