"""`testbed lab status` as a rich table: who holds which board of a lab, until when.

Kept out of backends/leases.py, which does not import rich (a backend has no terminal).
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from testbed.backends.leases import BoardStatus, LeaseState

if TYPE_CHECKING:
    from testbed.config.lab import Lab

_STYLE = {LeaseState.FREE: "green", LeaseState.HELD: "yellow", LeaseState.EXPIRED: "dim",
          LeaseState.UNREADABLE: "red", LeaseState.UNKNOWN: "red"}


def status_table(lab: Lab, rows: list[BoardStatus]) -> Table:
    """One line per board: board, platform, node, port/host, state, holder, run id, expires."""
    table = Table(title=f"lab {lab.name} — board leases")
    for column in ("board", "platform", "node", "port/host", "state", "holder", "run id",
                   "expires"):
        table.add_column(column)
    for row in rows:
        b, lease = row.board, row.lease
        place = b.port or b.emulator or "-"
        if b.host:
            place = f"{b.host}:{b.device or place}"
        if lease is not None:
            holder, run_id = f"{lease.owner} pid {lease.pid}", lease.run_id
            expires = _ago(lease.expires)
            if row.state is LeaseState.EXPIRED:
                expires += f" ({row.detail})"
        else:
            holder, run_id, expires = row.detail or "-", "-", "-"
        table.add_row(b.name, str(b.platform), b.node or "-", Text(place),
                      Text(str(row.state), style=_STYLE[row.state]), Text(holder), run_id,
                      Text(expires))
    return table


def _ago(when: _dt.datetime) -> str:
    """`15:40:02Z (in 37 s)` / `(12 s ago)`: the UTC time and how far it is from now."""
    seconds = (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds()
    rel = f"in {seconds:.0f} s" if seconds >= 0 else f"{-seconds:.0f} s ago"
    return f"{when.astimezone(_dt.timezone.utc):%Y-%m-%d %H:%M:%SZ} ({rel})"
