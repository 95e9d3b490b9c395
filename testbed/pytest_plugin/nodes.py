"""`node("s1")`: one topology node as a test sees it, whoever plays it.

- `.events` / `.console`: what the node printed in the test's variant (the experiment's
  logs/<node>.jsonl, and .err for the console); they need the test's `variant` argument;
- `.exec(...)`: runs something on the node now. On the emulated backend, an argv list runs in
  the node's namespace of a live network (brought up once per session) and gives a
  CompletedProcess; a string is MicroPython-compatible code run there with the node
  interpreter (`micropython`, else this Python) and gives its output. On the lab backend the
  board whose `node:` is this node runs the code over the raw REPL and gives its output; its
  port may be a device here or a pyserial URL (rfc2217:// to ser2net on a lab host). A board
  that stops answering (unplugged, its ser2net gone) is a BoardError naming the board.
  Code that raises is a `NodeExecError` with the traceback's last line, on both backends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from testbed.errors import BoardError, TestbedError
from testbed.experiment.nodes import Event, interpreter
from testbed.experiment.variants import Variant
from testbed.pytest_plugin.experiments import Experiment


class NodeExecError(TestbedError):
    """Code run with node(...).exec raised: `output` is what it printed, `traceback` its error."""

    def __init__(self, node: str, traceback: str, output: str = "") -> None:
        self.node = node
        self.traceback = traceback
        self.output = output
        lines = traceback.strip().splitlines()
        super().__init__(f"{node}: {lines[-1] if lines else '(no traceback)'}")


class Node:
    """A node of the experiment's topology (see the module docstring)."""

    def __init__(self, name: str, *, experiment: Callable[[], Experiment],
                 variant: Variant | None, runner: Runner) -> None:
        self.name = name
        self._experiment = experiment
        self._variant = variant
        self._runner = runner

    def __repr__(self) -> str:
        return f"<node {self.name} ({self._runner.where})>"

    def _need_variant(self, what: str) -> Variant:
        if self._variant is None:
            pytest.fail(f"node({self.name!r}).{what} is per protocol variant: give the test a "
                        f"`variant` argument (def test_...(node, variant))", pytrace=False)
        return self._variant

    @property
    def events(self) -> list[Event]:
        """The node's JSON-lines events in the current variant."""
        return self._experiment().events(self._need_variant("events"), self.name)

    @property
    def console(self) -> str:
        """Everything the node printed in the current variant (stdout, then stderr)."""
        return self._experiment().console(self._need_variant("console"), self.name)

    def exec(self, what: str | Sequence[str], **kw: Any) -> Any:
        """Run code (a string) or, on the emulated backend, a command (an argv list)."""
        return self._runner.exec(self.name, what, **kw)


class Runner:
    """How `exec` reaches a node; `where` is shown in reprs."""

    where = "?"

    def exec(self, node: str, what: str | Sequence[str], **kw: Any) -> Any:
        raise NotImplementedError


class EmulatedRunner(Runner):
    """Commands in the node's namespace of the session's live network."""

    where = "emulated"

    def __init__(self, network: Callable[[], Any]) -> None:
        self._network = network  # brings the live network up on first call

    def exec(self, node: str, what: str | Sequence[str], **kw: Any) -> Any:
        net = self._network()
        if isinstance(what, str):
            kw.setdefault("timeout", 60)
            done = net.exec(node, [interpreter(), "-c", what], capture_output=True, text=True,
                            **kw)
            if done.returncode != 0:
                raise NodeExecError(node, done.stderr or f"exit status {done.returncode}",
                                    done.stdout)
            return done.stdout
        return net.exec(node, list(what), **kw)


class LabRunner(Runner):
    """MicroPython code over the raw REPL of the board that plays the node; the board is
    opened on first use and closed when the test ends (`stack`)."""

    where = "lab"

    def __init__(self, lab: Any, stack: contextlib.ExitStack) -> None:
        self._lab = lab
        self._stack = stack
        self._repls: dict[str, Any] = {}

    def exec(self, node: str, what: str | Sequence[str], **kw: Any) -> Any:
        from testbed.backends.raw_repl import ReplExecError

        if not isinstance(what, str):
            raise TypeError(f"{node} is a lab board: exec takes MicroPython code (a string), "
                            "not an argv list")
        repl = self._repl(node)
        try:
            return repl.exec(what, **kw).replace("\r\n", "\n")
        except ReplExecError as e:
            raise NodeExecError(node, e.traceback.replace("\r\n", "\n")) from None
        except TestbedError as e:  # the port went away (unplugged, ser2net gone): say which board
            self._repls.pop(node).close()  # reopened on the next exec; nothing to leave at exit
            raise BoardError(f"{self._where(node)}: {e}") from None

    def _where(self, node: str) -> str:
        board = self._lab.board_for_node(node)
        on = f" on host {board.host}" if board.host else ""
        return f"board {board.name} (node {node}{on})"  # the error names the port

    def _repl(self, node: str) -> Any:
        if node not in self._repls:
            from testbed.backends.boards import board_missing, open_board
            from testbed.config.lab import BoardPlatform
            from testbed.backends.raw_repl import RawRepl

            lab = self._lab
            board = lab.board_for_node(node)
            if board is None:
                pytest.skip(f"lab {lab.source} has no board playing node {node!r} (set "
                            f"`node: {node}` on one under boards:)")
            if board.platform is not BoardPlatform.MICROPYTHON:
                pytest.skip(f"board {board.name} playing {node} runs {board.platform}: exec "
                            "runs MicroPython code")
            reason = board_missing(board)
            if reason:
                pytest.skip(reason)
            port = self._stack.enter_context(open_board(board))
            try:
                self._repls[node] = self._stack.enter_context(
                    RawRepl(port, baudrate=board.baudrate))
            except TestbedError as e:  # ser2net not there, the board not answering
                raise BoardError(f"{self._where(node)}: {e}") from None
        return self._repls[node]
