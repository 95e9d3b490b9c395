"""Memory tests boot QEMU's micro:bit: the shared guard and board fixture (tests/qemu.py)."""

from tests.qemu import microbit_port, no_leaked_qemu  # noqa: F401  (fixtures)
