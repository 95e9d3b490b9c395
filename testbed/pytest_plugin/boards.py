"""`@pytest.mark.needs_boards(micropython=1)`: hardware is opt-in, and a test that needs
boards the lab lacks is skipped with the reason and the fix.

    @pytest.mark.needs_boards(micropython=1, sensniff=1)
    @pytest.mark.needs_boards("micropython", "sensniff")     # one of each

The boards come from the --lab file; a board counts when it is in the lab and usable on this
machine (testbed.backends.boards.board_missing says why one is not). Such a test runs on the
lab backend (the default once --lab is given); with --backend emulated it is skipped too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from testbed.backends.boards import board_missing
from testbed.config.lab import BoardPlatform, Lab
from testbed.config.yamlmarks import did_you_mean

MARKER = "needs_boards"


def wanted_boards(marker: pytest.Mark) -> dict[BoardPlatform, int]:
    """platform -> count from the marker's arguments; ValueError naming a wrong one."""
    wanted: dict[BoardPlatform, int] = {}
    pairs = [(name, 1) for name in marker.args] + list(marker.kwargs.items())
    known = [p.value for p in BoardPlatform]
    for name, count in pairs:
        if str(name) not in known:
            raise ValueError(f"needs_boards: unknown platform {name!r}"
                             f"{did_you_mean(name, known)} (known: "
                             f"{', '.join(known)})")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"needs_boards: {name}={count!r}: expected a count of at least 1")
        platform = BoardPlatform(name)
        wanted[platform] = wanted.get(platform, 0) + count
    return wanted


def _shown(path: Path | None) -> str:
    return "the lab" if path is None else str(path)  # as given with --lab


def missing_boards(lab: Lab | None, wanted: Mapping[BoardPlatform, int]) -> str | None:
    """Why the lab cannot give the test these boards (the skip reason), or None."""
    if not wanted:
        return None
    if lab is None:
        return "no --lab given (pass --lab labs/qemu.yaml)"
    for platform, count in wanted.items():
        boards = lab.by_platform(platform)
        if len(boards) < count:
            plural = "board" if len(boards) == 1 else "boards"
            return (f"lab {_shown(lab.source)} has {len(boards)} {platform} {plural}, the test "
                    f"needs {count} (add one under boards:)")
        reasons = [r for r in (board_missing(b) for b in boards) if r]
        if len(boards) - len(reasons) < count:
            return reasons[0]
    return None


def mark_skips(items: list[pytest.Item], lab: Lab | None, *, on_lab: bool) -> None:
    """At collection: a wrong needs_boards marker stops the session (pytest.UsageError); a
    test whose boards the lab lacks gets a skip marker with the reason (shown at the test)."""
    for item in items:
        wanted: dict[BoardPlatform, int] = {}
        for marker in item.iter_markers(MARKER):
            try:
                found = wanted_boards(marker)
            except ValueError as e:
                raise pytest.UsageError(f"{item.nodeid}: {e}") from None
            for platform, count in found.items():  # the closest marker's count wins
                wanted.setdefault(platform, count)
        reason = missing_boards(lab, wanted)
        if not reason and wanted and not on_lab:
            reason = "needs the lab's boards: this session runs --backend emulated"
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))
