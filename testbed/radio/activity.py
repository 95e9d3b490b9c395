"""The radio activity log: one row per thing a node's radio did, for the energy model.

What it is: `RadioActivity` (a frozen record) and `ActivityLog` (a CSV writer with
the header of docs/CONTRACTS.md). What it is not: the capture (`pcap.py` holds the
bytes; this holds who spent radio time on what, and how it ended).

Columns: node, kind, frame, start_s, duration_s, bytes, seq, peer, status.
Rows are appended when their outcome is known (a data frame's tx row after its ACK
or ACK timeout), so the file is not in start_s order: sort by start_s to replay it.

kind
    ``tx``  the node transmitted (or gave up on) a frame;
    ``rx``  the node's receiver was busy with a frame a neighbour sent (one row per
            neighbour in range, whatever the outcome: the energy was spent);
    ``cca`` a clear channel assessment (8 symbols, 128 µs);
    ``listen`` the sender's receiver waiting for an ACK: from the end of its data
            frame to the start of the ACK (status ok) or for macAckWaitDuration
            (status no-ack; an ACK that arrived damaged has its own rx row inside it);
    ``drop`` a frame the MAC gave up without (re)sending it (duration 0);
    ``backoff`` a CSMA-CA random backoff before a CCA ((2^BE - 1) unit periods at
            most), logged when it begins, so a frame's MAC delay can be replayed.
frame
    ``data`` or ``ack``.
start_s, duration_s
    modelled times, seconds since the medium started (medium.json has ``t0_unix``).
bytes
    PSDU length (MHR to FCS, as tshark's ``frame.len``); 0 for cca rows.
seq
    the MAC sequence number (DSN) of the frame; -1 for cca rows.
peer
    tx: the addressed node's name (``broadcast`` for 0xFFFF); rx: the sender's
    name; cca: empty.

status, by kind
    tx data:
        ``ok``        sent; acknowledged, or no ACK was requested (broadcast);
        ``no-ack``    sent, but no ACK within macAckWaitDuration (a retry follows,
                      or the frame is dropped);
    tx ack:
        ``ok``        the ACK was sent;
    drop, duration 0 (the frame never went (again) on the air):
        ``dropped``   macMaxFrameRetries retransmissions got no ACK: the frame
                      and the rest of its datagram are given up;
        ``channel-access-failure``  CSMA-CA found the channel busy more than
                      macMaxCSMABackoffs times: the frame and the rest of its
                      datagram are given up (§7.5.1.4);
        ``queue-full``  the datagram found the MAC queue full (tail drop);
    rx:
        ``ok``        received and delivered upward (addressed to this node or
                      broadcast), or, for an ACK, the ACK the node was waiting for;
        ``duplicate`` received, addressed to this node, but the same (sender, seq)
                      as the previous frame: ACKed again, not delivered twice;
        ``overheard`` received intact but addressed to another node (or an ACK
                      the node was not waiting for);
        ``lost``      not received: the link's packet reception ratio said so;
        ``collision`` another transmission overlapped it at this receiver;
        ``half-duplex`` the receiver was transmitting during part of it;
    cca:
        ``idle``      channel clear, the transmission starts;
        ``busy``      channel busy, CSMA-CA backs off again;
    listen:
        ``ok``        the awaited ACK started arriving;
        ``no-ack``    macAckWaitDuration passed without it;
    backoff:
        ``wait``      the node waits `duration_s` before its next CCA (seq: the
                      frame it is trying to send).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import IO

HEADER = ("node", "kind", "frame", "start_s", "duration_s", "bytes", "seq", "peer", "status")


@dataclass(frozen=True, slots=True)
class RadioActivity:
    """One row of the activity log (see the module docstring for every value)."""

    node: str
    kind: str
    frame: str
    start_s: float
    duration_s: float
    bytes: int
    seq: int
    peer: str
    status: str

    def row(self) -> tuple[str, ...]:
        """CSV fields; times in microsecond resolution so rows stay short."""
        return (
            self.node, self.kind, self.frame, f"{self.start_s:.6f}", f"{self.duration_s:.6f}",
            str(self.bytes), str(self.seq), self.peer, self.status,
        )


class ActivityLog:
    """Appends `RadioActivity` rows to a CSV file; `flush()` makes them durable.

    The file is opened in `open()` (not in the constructor) and the header is
    written at once, so even a medium that dies early leaves a readable log.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows = 0
        self._file: IO[str] | None = None
        self._writer = None

    def open(self) -> ActivityLog:
        self._file = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.writer(self._file)
        self._writer.writerow(HEADER)
        return self

    def __enter__(self) -> ActivityLog:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, activity: RadioActivity) -> None:
        self._writer.writerow(activity.row())
        self.rows += 1

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_activity(path: str | Path) -> list[RadioActivity]:
    """Read a log back (for tests and the energy model)."""
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        return [
            RadioActivity(
                r["node"], r["kind"], r["frame"], float(r["start_s"]), float(r["duration_s"]),
                int(r["bytes"]), int(r["seq"]), r["peer"], r["status"],
            )
            for r in reader
        ]
