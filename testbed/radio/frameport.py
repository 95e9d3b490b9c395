"""The medium's frame port: nodes with their own MAC hand it whole IEEE 802.15.4 frames.

What it is: the wire format (docs/CONTRACTS.md, "Frame port") spoken on the medium's
AF_UNIX SOCK_SEQPACKET socket, one message per packet, and `FramePortServer`, the
medium's side of it (accept, HELLO, TX in, TX-DONE and RX out). A Contiki-NG node
(nodes/contiki/platform/medium/medium-radio.c) is the usual client; tests speak it
from Python with `encode_*` / `decode`. What it is not: the channel (core.py decides
what happens to a frame) nor a MAC (the node's own CSMA backs off and retries).

Every message starts with the version byte and a type byte; integers are
little-endian, as in the 802.15.4 header. A TX carries a token that its TX-DONE
echoes, so a node that gave up waiting never takes a late answer for a later TX's. PSDUs travel WITHOUT their FCS: the radio's
hardware appends and checks it, so the medium does (the capture holds the FCS).
"""

from __future__ import annotations

import errno
import socket
import struct
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from testbed.lowpan.addresses import BROADCAST_SHORT, MAX_SHORT, eui64
from testbed.lowpan.mac import AddrMode

VERSION = 1
#: The largest PSDU without its FCS (aMaxPHYPacketSize 127 - 2).
MAX_FRAME = 125
#: Every message fits one read of this size (header 3 + 125 bytes).
MAX_MESSAGE = 160

#: The RSSI (dBm) and LQI an RX message carries: the channel model has no signal
#: strength, only a packet reception ratio, so every received frame reads the same.
RX_RSSI_DBM = -60
RX_LQI = 255


class MessageType(IntEnum):
    """Type byte (offset 1); node->medium below 0x80, medium->node from 0x80."""

    HELLO = 0x01  # node -> medium: u16 short address
    TX = 0x02  # node -> medium: u8 flags (TX_CCA), u8 token, PSDU without FCS
    WELCOME = 0x81  # medium -> node: u8 channel, u16 PAN ID
    TX_DONE = 0x82  # medium -> node: u8 TxStatus, u8 token (the TX's)
    RX = 0x83  # medium -> node: i8 RSSI (dBm), u8 LQI, PSDU without FCS
    REFUSED = 0x84  # medium -> node: UTF-8 reason; the medium closes the connection


class TxStatus(IntEnum):
    """The outcome of a TX, as a radio reports it to its MAC."""

    OK = 0  # sent; ACKed if an ACK was requested (broadcast: sent)
    NOACK = 1  # sent, no ACK within macAckWaitDuration
    COLLISION = 2  # CCA found the channel busy (send-on-CCA) or the radio was busy
    ERROR = 3  # not a frame the medium can send (too long, undecodable header)


#: TX flags byte.
TX_CCA = 0x01

_HEADER = struct.Struct("<BB")
_HELLO = struct.Struct("<BBH")
_WELCOME = struct.Struct("<BBBH")
_TX_DONE = struct.Struct("<BBBB")
_RX = struct.Struct("<BBbB")
_TX = struct.Struct("<BBBB")


class ProtocolError(ValueError):
    """A message that breaks the wire format (the text says which byte)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded message; the fields a type does not carry are left at their default."""

    type: MessageType
    short: int = 0
    flags: int = 0
    token: int = 0
    status: TxStatus = TxStatus.OK
    channel: int = 0
    pan_id: int = 0
    rssi: int = 0
    lqi: int = 0
    psdu: bytes = b""
    reason: str = ""


def encode_hello(short: int) -> bytes:
    return _HELLO.pack(VERSION, MessageType.HELLO, short)


def encode_tx(psdu: bytes, *, cca: bool = True, token: int = 0) -> bytes:
    return _TX.pack(VERSION, MessageType.TX, TX_CCA if cca else 0, token) + psdu


def encode_welcome(channel: int, pan_id: int) -> bytes:
    return _WELCOME.pack(VERSION, MessageType.WELCOME, channel, pan_id)


def encode_tx_done(status: TxStatus, token: int = 0) -> bytes:
    return _TX_DONE.pack(VERSION, MessageType.TX_DONE, status, token)


def encode_rx(psdu: bytes, *, rssi: int = RX_RSSI_DBM, lqi: int = RX_LQI) -> bytes:
    return _RX.pack(VERSION, MessageType.RX, rssi, lqi) + psdu


def encode_refused(reason: str) -> bytes:
    return _HEADER.pack(VERSION, MessageType.REFUSED) + reason.encode()


def decode(data: bytes) -> Message:
    """Parse one message; ProtocolError names the offset of what is wrong."""
    if len(data) < 2:
        raise ProtocolError(f"offset {len(data)}: message of {len(data)} bytes, need 2")
    if data[0] != VERSION:
        raise ProtocolError(f"offset 0: version {data[0]}, this medium speaks {VERSION}")
    try:
        kind = MessageType(data[1])
    except ValueError:
        raise ProtocolError(f"offset 1: unknown message type {data[1]:#04x}") from None
    try:
        if kind is MessageType.HELLO:
            return Message(kind, short=_HELLO.unpack(data)[2])
        if kind is MessageType.TX:
            _, _, flags, token = _TX.unpack_from(data)
            psdu = data[_TX.size:]
            if not 3 <= len(psdu) <= MAX_FRAME:
                raise ProtocolError(f"offset {_TX.size}: PSDU of {len(psdu)} bytes (without "
                                    f"FCS), expected 3..{MAX_FRAME}")
            return Message(kind, flags=flags, token=token, psdu=psdu)
        if kind is MessageType.WELCOME:
            _, _, channel, pan_id = _WELCOME.unpack(data)
            return Message(kind, channel=channel, pan_id=pan_id)
        if kind is MessageType.TX_DONE:
            _, _, status, token = _TX_DONE.unpack(data)
            return Message(kind, status=TxStatus(status), token=token)
        if kind is MessageType.RX:
            _, _, rssi, lqi = _RX.unpack_from(data)
            return Message(kind, rssi=rssi, lqi=lqi, psdu=data[_RX.size:])
        return Message(kind, reason=data[2:].decode(errors="replace"))
    except struct.error:
        raise ProtocolError(f"offset {len(data)}: {kind.name} message truncated "
                            f"({len(data)} bytes)") from None
    except ValueError as error:  # an unknown TX-DONE status
        raise ProtocolError(f"offset 2: {error}") from None


# -- the medium's side ---------------------------------------------------------------

Transmit = Callable[[int, int, int, bytes], None]  # (short, flags, token, PSDU without FCS)
OnRadio = Callable[[int, bool], None]  # (short, connected): the node's radio on or off


class FramePortServer:
    """The listening socket and one connection per frame-port node.

    `open()` binds and listens; the medium's loop registers `fd` (the listener) and each
    connection's fd and calls `readable(fd)`; a complete TX goes to `transmit`, an
    accepted HELLO and a closed connection to `on_radio`. A node
    not (yet) connected is still on the air for the model; what it would receive is lost.
    The constructor does no I/O.
    """

    def __init__(self, path: Path, *, shorts: Iterable[int], channel: int, pan_id: int,
                 transmit: Transmit, on_radio: OnRadio | None = None) -> None:
        self.path = Path(path)
        self.shorts = frozenset(shorts)
        self.channel = channel
        self.pan_id = pan_id
        self._transmit = transmit
        self._on_radio = on_radio or (lambda short, on: None)
        self.listener: socket.socket | None = None
        self._by_fd: dict[int, socket.socket] = {}
        self._short_of: dict[int, int] = {}  # fd -> short, once HELLO was accepted
        self._fd_of: dict[int, int] = {}  # short -> fd
        self.counts = {"connections": 0, "refused": 0, "tx": 0, "rx": 0, "rx_dropped": 0,
                       "tx_done": {s.name.lower(): 0 for s in TxStatus}, "protocol_errors": 0}

    @property
    def fd(self) -> int:
        return self.listener.fileno()

    def open(self) -> FramePortServer:
        if self.path.is_socket():
            self.path.unlink()  # a medium killed before its close left it behind
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            listener.bind(str(self.path))
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        listener.setblocking(False)
        self.listener = listener
        return self

    def close(self) -> None:
        for conn in self._by_fd.values():
            conn.close()
        self._by_fd.clear()
        self._short_of.clear()
        self._fd_of.clear()
        if self.listener is not None:
            self.listener.close()
            self.listener = None
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    def connected(self, short: int) -> bool:
        return short in self._fd_of

    def accept(self) -> list[int]:
        """Accept every pending connection; returns their fds (to register)."""
        fds = []
        while True:
            try:
                conn, _ = self.listener.accept()
            except BlockingIOError:
                return fds
            conn.setblocking(False)
            self._by_fd[conn.fileno()] = conn
            fds.append(conn.fileno())

    def readable(self, fd: int) -> bool:
        """Read what a connection sent; False once it is closed (unregister it first)."""
        conn = self._by_fd[fd]
        while True:
            try:
                data = conn.recv(MAX_MESSAGE)
            except BlockingIOError:
                return True
            except OSError:
                data = b""
            if not data:
                self._drop(fd)
                return False
            if not self._handle(fd, data):
                return False

    def _handle(self, fd: int, data: bytes) -> bool:
        try:
            message = decode(data)
        except ProtocolError as error:
            self.counts["protocol_errors"] += 1
            return self._refuse(fd, f"bad message: {error}")
        short = self._short_of.get(fd)
        if message.type is MessageType.HELLO:
            if short is not None:
                return self._refuse(fd, "HELLO sent twice")
            if message.short not in self.shorts:
                return self._refuse(fd, f"short address {message.short:#06x} is not a "
                                        "frame-port node of this medium")
            if message.short in self._fd_of:
                return self._refuse(fd, f"short address {message.short:#06x} is already "
                                        "connected")
            self._short_of[fd] = message.short
            self._fd_of[message.short] = fd
            self.counts["connections"] += 1
            self._on_radio(message.short, True)
            self._send(fd, encode_welcome(self.channel, self.pan_id))
            return True
        if short is None:
            return self._refuse(fd, f"{message.type.name} before HELLO")
        if message.type is not MessageType.TX:
            return self._refuse(fd, f"{message.type.name} is a medium->node message")
        self.counts["tx"] += 1
        self._transmit(short, message.flags, message.token, message.psdu)
        return True

    def _refuse(self, fd: int, reason: str) -> bool:
        self.counts["refused"] += 1
        print(f"medium: frame port: {reason}; connection closed", file=sys.stderr)
        self._send(fd, encode_refused(reason))
        self._drop(fd)
        return False

    def _drop(self, fd: int) -> None:
        conn = self._by_fd.pop(fd)
        short = self._short_of.pop(fd, None)
        if short is not None:
            del self._fd_of[short]
            self._on_radio(short, False)
        conn.close()

    def tx_done(self, short: int, status: TxStatus, token: int) -> None:
        self.counts["tx_done"][status.name.lower()] += 1
        fd = self._fd_of.get(short)
        if fd is not None:
            self._send(fd, encode_tx_done(status, token))

    def rx(self, short: int, psdu: bytes) -> None:
        """Hand a received frame (the PSDU with its FCS) to the node, if connected."""
        fd = self._fd_of.get(short)
        if fd is None:
            return
        if self._send(fd, encode_rx(psdu[:-2])):
            self.counts["rx"] += 1
        else:
            self.counts["rx_dropped"] += 1

    def _send(self, fd: int, data: bytes) -> bool:
        try:
            self._by_fd[fd].send(data)
        except OSError as error:
            # EAGAIN: the node does not read (its socket buffer is full): what a radio
            # whose MCU never empties the RX FIFO does, the frame is lost.
            if error.errno not in (errno.EAGAIN, errno.EPIPE, errno.ECONNRESET):
                raise
            return False
        return True


def short_of_destination(dst_mode: int, dst: int | None) -> int | None:
    """The node a frame is addressed to, from its MAC header: a short address as is, an
    extended one through the EUI-64 scheme of testbed.lowpan.addresses (02:00:00:ff:fe:00:
    HH:LL); None for an address of no node."""
    if dst_mode == AddrMode.NONE or dst is None:
        return BROADCAST_SHORT
    if dst_mode == AddrMode.SHORT:
        return dst
    short = dst & 0xFFFF
    if 1 <= short <= MAX_SHORT and eui64(short) == dst:
        return short
    return None


__all__ = [
    "FramePortServer", "Message", "MessageType", "ProtocolError", "TxStatus", "decode",
    "encode_hello", "encode_refused", "encode_rx", "encode_tx", "encode_tx_done",
    "encode_welcome", "short_of_destination",
]
