"""The sensniff serial protocol, version 2: encoder and an incremental, resynchronising decoder.

What it is: the framing a Contiki-NG sniffer (examples/sensniff/sensniff.c) writes on its UART
and the host tool (sensniff.py, protocol v2) reads. What it is not: the serial port (see
serial_source.py) or a MAC decoder.

Framing, peripheral -> host (sensniff.c `send_header`):

    magic C1 1F FE 72 | version 0x02 | command | length (16 bits, big-endian) | payload

CMD_FRAME (0x00) payload, from `sensniff_output_frame()`: the packetbuf contents, then one RSSI
byte, then `0x80 | LQI`. The packetbuf holds what the radio driver's `read()` returned, and
Contiki's drivers strip the FCS there (`len -= CHECKSUM_LEN` in cc2530-rf.c, cc2538-rf.c, ...):
so the payload is the MPDU WITHOUT its FCS, and the RSSI/LQI pair sits where the FCS was (the
CC24xx "FCS format" Wireshark knows; bit 7 of the last byte is "CRC OK"). The host tool writes
the payload unchanged into a LINKTYPE 195 pcap. This module instead recomputes the FCS
(testbed.lowpan.fcs) and appends it, so every source yields the same PSDU (MHR .. FCS) and the
pcaps we write are valid LINKTYPE 195 files; RSSI (signed dBm) and LQI (7 bits) are kept beside.

Replies: CMD_CHANNEL 0x01, CMD_CHANNEL_MIN 0x02, CMD_CHANNEL_MAX 0x03 (one byte each),
CMD_ERR_NOT_SUPPORTED 0x7F (no payload). Host -> peripheral: CMD_GET_CHANNEL 0x81,
CMD_GET_CHANNEL_MIN 0x82, CMD_GET_CHANNEL_MAX 0x83 are magic|version|command with NO length
field (the firmware acts on the command byte); CMD_SET_CHANNEL 0x84 has length 1 and the channel.

Resynchronisation (the decoder's own rules, the firmware has none for this direction): bytes
before a magic are skipped ("garbage"); a magic whose header is implausible (another version, an
unknown command, a length that command never has) is skipped byte by byte ("bad-header"); a
message inside whose declared length another valid header starts is a torn message and is
skipped up to that header ("torn"); a CMD_FRAME whose last byte lacks the 0x80 bit the firmware
always sets is skipped whole ("bad-frame"). Every skip is recorded with its stream byte offset.
Limits: without an FCS on the line, a torn frame completed by garbage whose last byte happens
to have bit 7 set is indistinguishable from a frame; a frame whose LQI byte is 0xC1 (a possible
magic start) is held until the next bytes arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from testbed.lowpan.fcs import fcs_bytes

MAGIC = bytes((0xC1, 0x1F, 0xFE, 0x72))
VERSION = 2
HEADER = 8  # magic 4 + version 1 + command 1 + length 2
#: IEEE 802.15.4 aMaxPHYPacketSize (127) less the 2-byte FCS the radio strips.
MAX_MPDU_NO_FCS = 125
#: The shortest MPDU: an Imm-Ack, frame control + sequence number (FCS stripped).
MIN_MPDU_NO_FCS = 3
LQI_CRC_OK = 0x80


class Command(IntEnum):
    """sensniff v2 command bytes (sensniff.c / sensniff.py)."""

    FRAME = 0x00
    CHANNEL = 0x01
    CHANNEL_MIN = 0x02
    CHANNEL_MAX = 0x03
    ERR_NOT_SUPPORTED = 0x7F
    GET_CHANNEL = 0x81
    GET_CHANNEL_MIN = 0x82
    GET_CHANNEL_MAX = 0x83
    SET_CHANNEL = 0x84


#: peripheral -> host: the payload lengths each command can have
_REPLY_LENGTHS: dict[int, range] = {
    Command.FRAME: range(MIN_MPDU_NO_FCS + 2, MAX_MPDU_NO_FCS + 2 + 1),
    Command.CHANNEL: range(1, 2),
    Command.CHANNEL_MIN: range(1, 2),
    Command.CHANNEL_MAX: range(1, 2),
    Command.ERR_NOT_SUPPORTED: range(0, 1),
}


@dataclass(frozen=True, slots=True)
class Message:
    """One message from the peripheral, with the stream offset of its magic."""

    command: Command
    payload: bytes
    offset: int


@dataclass(frozen=True, slots=True)
class SnifferFrame:
    """A CMD_FRAME's content: the PSDU with a recomputed FCS, RSSI (dBm) and LQI."""

    psdu: bytes
    rssi: int
    lqi: int


@dataclass(frozen=True, slots=True)
class Skipped:
    """Bytes the decoder dropped: stream offset, count and why (garbage, bad-header, torn)."""

    offset: int
    length: int
    reason: str


# -- encoding (peripheral side and host commands) --------------------------------------------


def encode(command: int, payload: bytes = b"") -> bytes:
    """A peripheral -> host message (sensniff.c `send_header` + payload)."""
    return MAGIC + bytes((VERSION, command)) + len(payload).to_bytes(2, "big") + payload


def encode_frame(psdu: bytes, *, rssi: int = 0, lqi: int = 0x7F) -> bytes:
    """CMD_FRAME for a PSDU (MHR .. FCS): the FCS is replaced by RSSI and `0x80 | LQI`."""
    mpdu = psdu[:-2]
    if not MIN_MPDU_NO_FCS <= len(mpdu) <= MAX_MPDU_NO_FCS:
        raise ValueError(f"PSDU of {len(psdu)} bytes is not an IEEE 802.15.4 frame (5..127)")
    return encode(Command.FRAME, mpdu + bytes((rssi & 0xFF, LQI_CRC_OK | (lqi & 0x7F))))


def encode_command(command: Command, channel: int | None = None) -> bytes:
    """A host -> peripheral command (sensniff.py `__write_command`): GETs carry no length."""
    if command == Command.SET_CHANNEL:
        if channel is None:
            raise ValueError("SET_CHANNEL needs a channel")
        return MAGIC + bytes((VERSION, command, 0, 1, channel))
    return MAGIC + bytes((VERSION, command))


def frame_of(message: Message) -> SnifferFrame:
    """The frame a CMD_FRAME carries, FCS recomputed and appended."""
    mpdu, rssi, lqi = message.payload[:-2], message.payload[-2], message.payload[-1]
    return SnifferFrame(psdu=mpdu + fcs_bytes(mpdu), rssi=rssi - 256 if rssi > 127 else rssi,
                        lqi=lqi & 0x7F)


# -- decoding ------------------------------------------------------------------------------


def _plausible(header: bytes | bytearray | memoryview) -> bool:
    if header[4] != VERSION:
        return False
    lengths = _REPLY_LENGTHS.get(header[5])
    return lengths is not None and ((header[6] << 8) | header[7]) in lengths


class Decoder:
    """Incremental peripheral -> host decoder: `feed(data) -> [Message]`; skips in `.skipped`."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._base = 0  # stream offset of _buffer[0]
        self.skipped: list[Skipped] = []
        self.messages = 0

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a message (or a possible magic)."""
        return len(self._buffer)

    def _skip(self, count: int, reason: str) -> None:
        if self.skipped and self.skipped[-1].reason == reason and (
            self.skipped[-1].offset + self.skipped[-1].length == self._base
        ):
            last = self.skipped[-1]
            self.skipped[-1] = Skipped(last.offset, last.length + count, reason)
        else:
            self.skipped.append(Skipped(self._base, count, reason))
        del self._buffer[:count]
        self._base += count

    def feed(self, data: bytes) -> list[Message]:
        return self._decode(data, quiet=False)

    def flush(self) -> list[Message]:
        """The line went quiet: a message whose last bytes could also begin a header (a frame
        whose LQI byte is 0xC1, the magic's first byte) was held back for the bytes after it;
        none came, so it is a message. A sniffer sends a message in one burst at 460800 baud:
        a live source calls this after a read timeout with no data."""
        return self._decode(b"", quiet=True)

    def _decode(self, data: bytes, *, quiet: bool) -> list[Message]:
        buf = self._buffer
        buf += data
        out: list[Message] = []
        while buf:
            start = buf.find(MAGIC)
            if start < 0:
                # keep a tail that may be the beginning of a magic
                keep = next((k for k in (3, 2, 1) if buf.endswith(MAGIC[:k])), 0)
                if len(buf) > keep:
                    self._skip(len(buf) - keep, "garbage")
                break
            if start:
                self._skip(start, "garbage")
            if len(buf) < HEADER:
                break
            if not _plausible(buf[:HEADER]):
                self._skip(1, "bad-header")
                continue
            end = HEADER + ((buf[6] << 8) | buf[7])
            torn, wait = self._inner_header(end, quiet=quiet)
            if torn:
                self._skip(torn, "torn")
                continue
            if wait or len(buf) < end:
                break
            if buf[5] == Command.FRAME and not buf[end - 1] & LQI_CRC_OK:
                # sensniff.c always sets bit 7 of the last byte: this frame was completed by
                # bytes that are not its own (a torn frame followed by garbage)
                self._skip(end, "bad-frame")
                continue
            out.append(Message(Command(buf[5]), bytes(buf[HEADER:end]), self._base))
            del buf[:end]
            self._base += end
            self.messages += 1
        return out

    def _inner_header(self, end: int, *, quiet: bool) -> tuple[int, bool]:
        """(offset of a valid header starting inside the current message, or 0; whether to
        wait for more bytes before deciding). `quiet`: no more bytes are coming now."""
        buf = self._buffer
        # a magic starting before `end` (it may run past it) begins another message
        limit = min(end + len(MAGIC) - 1, len(buf))
        at = buf.find(MAGIC, 1, limit)
        while at > 0:
            if len(buf) < at + HEADER:
                if quiet:  # a header cut short by silence is none
                    at = buf.find(MAGIC, at + 1, limit)
                    continue
                return 0, True
            if _plausible(buf[at:at + HEADER]):
                return at, False
            at = buf.find(MAGIC, at + 1, limit)
        # the buffer ends in what may be the start of a magic that begins inside the message:
        # decide once more bytes came (a frame only ends so when its LQI byte is 0xC1)
        if not quiet and end <= len(buf) < end + len(MAGIC) - 1:
            for k in range(len(MAGIC) - 1, 0, -1):
                if len(buf) - k < end and buf.endswith(MAGIC[:k]):
                    return 0, True
        return 0, False

    def finish(self) -> list[Message]:
        """End of stream: the messages held back for bytes that never came (`flush`); what
        is left then is a truncated message (or garbage)."""
        out = self.flush()
        if self._buffer:
            reason = "torn" if self._buffer.startswith(MAGIC) else "garbage"
            self._skip(len(self._buffer), reason)
        return out


class CommandParser:
    """Peripheral side: host -> peripheral commands, the state machine of sensniff.c
    `process_incoming_data` (GETs act on the command byte; SET_CHANNEL has length 1 + data)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[Command, int | None]]:
        buf = self._buffer
        buf += data
        out: list[tuple[Command, int | None]] = []
        while True:
            start = buf.find(MAGIC)
            if start < 0:
                keep = next((k for k in (3, 2, 1) if buf.endswith(MAGIC[:k])), 0)
                del buf[:len(buf) - keep]
                return out
            del buf[:start]
            if len(buf) < 6:
                return out
            if buf[4] != VERSION:
                del buf[:1]
                continue
            command = buf[5]
            if command in (Command.GET_CHANNEL, Command.GET_CHANNEL_MIN, Command.GET_CHANNEL_MAX):
                out.append((Command(command), None))
                del buf[:6]
                continue
            if len(buf) < 8:
                return out
            if command == Command.SET_CHANNEL and (buf[6], buf[7]) == (0, 1):
                if len(buf) < 9:
                    return out
                out.append((Command.SET_CHANNEL, buf[8]))
                del buf[:9]
                continue
            out.append((Command.ERR_NOT_SUPPORTED, command))  # answered with 0x7F
            del buf[:8]
