"""One exception tree for everything the testbed reports to a person.

A `BadInput` is the user's to fix (a topology file, a capture, a serial stream):
the CLI prints its message on one line and exits with status 2, no traceback.
"""

from __future__ import annotations


class TestbedError(Exception):
    """Base of every error the testbed raises on purpose."""

    __test__ = False  # not a pytest test class despite the name
    exit_status = 1


class BadInput(TestbedError):
    """Input the user gave is wrong; the message names the file and line or byte offset."""

    exit_status = 2


class TopologyError(BadInput):
    """A topology file is invalid: `file:line:col: path: what was expected`."""


class LabError(BadInput):
    """A lab file is invalid: `file:line:col: path: what was expected` (one line)."""


class FrameError(BadInput):
    """Bytes that are not a valid IEEE 802.15.4 / 6LoWPAN frame (message names the byte offset)."""


class NetworkError(TestbedError):
    """Bringing an emulated network up or down failed (a command, a namespace, the medium)."""


class PrivilegeError(TestbedError):
    """The emulated backend needs CAP_NET_ADMIN: root or an unprivileged user+net namespace."""


class FlashError(TestbedError):
    """Firmware could not be put on a board: names the board, the step and where to look."""


class BoardError(TestbedError):
    """A board backend could not start or reach its board (QEMU, a serial port)."""


class ReplError(TestbedError):
    """The board did not speak the raw REPL protocol in time (names the port, last bytes)."""


class RemoteError(TestbedError):
    """A lab host could not be reached over SSH (its host key refused, key authentication
    failed, no route) or a command or file transfer there failed: names the host and the log."""


class BoardBusy(TestbedError):
    """Another run holds a board this run needs (names the board, the holder and the expiry).

    Not bad input (the command was right) and not a failure (nothing was tried): a temporary
    condition, so the CLI exits with EX_TEMPFAIL (75, sysexits.h), which a CI job can retry on
    (GitLab `retry: exit_codes: [75]`) without also retrying real failures.
    """

    exit_status = 75


class LeaseLost(TestbedError):
    """A board's lease was taken from a running run (it stalled past the expiry, or an operator
    released it by force): another run may have used the board meanwhile."""
