"""Where the node firmware lives: `nodes/<app>/` of a checkout, or the copy an installed wheel
carries as `testbed/_nodes/` (a lab's suite runs from the installed package, not the repo)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def nodes_dir() -> Path:
    """The checkout's nodes/ when the package runs from one, else the wheel's copy."""
    checkout = _PACKAGE.parent / "nodes"
    return checkout if checkout.is_dir() else _PACKAGE / "_nodes"
