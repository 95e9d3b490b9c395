"""LabPan's tear-down of a board: its `quiet:` argv, and what a failing one says."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.backends.lab import LabPan
from testbed.config.lab import parse_lab
from testbed.config.topology import parse_topology
from testbed.errors import NetworkError
from tests.topologies import SENSOR_PAIR


def _pan(tmp_path: Path, quiet: str) -> LabPan:
    lab = parse_lab(f"name: bench\nboards:\n  cc:\n    platform: contiki\n    port: /dev/null\n"
                    f"    node: s1\n    target: zoul\n    flasher: ['true']\n    quiet: {quiet}\n",
                    "lab.yaml")
    # no run, medium or firmware: _quiet needs the lab, the board's port and the logs only
    return LabPan(topology=parse_topology(SENSOR_PAIR).on_platform("contiki"),
                  run=None, logs=tmp_path / "logs",  # type: ignore[arg-type]
                  frame_socket=tmp_path / "frames.sock",
                  firmware_for=None,  # type: ignore[arg-type]
                  border_router_netns="unused", lab=lab)


def test_quiet_runs_the_boards_argv_with_its_port_and_keeps_a_log(tmp_path: Path) -> None:
    pan = _pan(tmp_path, '[sh, -c, "echo silenced $0", "{port}"]')
    pan._quiet(pan.board("s1"))
    assert "silenced /dev/null" in (tmp_path / "logs" / "flash" / "cc.quiet.log").read_text()


def test_a_failing_quiet_names_the_board_the_program_and_its_log(tmp_path: Path) -> None:
    pan = _pan(tmp_path, "['false']")
    with pytest.raises(NetworkError) as caught:
        pan._quiet(pan.board("s1"))
    message = str(caught.value)
    assert message.startswith("quiet: board cc: false exited with status 1"), message
    assert str(tmp_path / "logs" / "flash" / "cc.quiet.log") in message
    assert message.count("board cc") == 1
