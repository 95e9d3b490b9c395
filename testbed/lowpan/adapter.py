"""The radio medium's view of 6LoWPAN: IPv6 packets in, IEEE 802.15.4 PSDUs out, and back.

What it is: one object per node that knows the PAN (ID, addressing, /64 prefix
as IPHC context 0) and turns a node's IPv6 packet into MAC frames sized to fit
aMaxPHYPacketSize, and received frames back into IPv6 packets through its own
`Reassembler`. What it is not: CSMA, ACK timing or retransmission (the medium's
job); it only builds and parses bytes.

Link-layer broadcast is the short address 0xffff (never acknowledged,
IEEE 802.15.4-2006 §7.5.6.4), even when the PAN uses extended addresses.
"""

from __future__ import annotations

from ipaddress import IPv6Network

from testbed.lowpan import mac
from testbed.lowpan.addresses import BROADCAST_SHORT, eui64
from testbed.lowpan.frag import REASSEMBLY_TIMEOUT_S, Reassembler, fragment
from testbed.lowpan.mac import AddrMode, MacFrame

_SHORT = int(AddrMode.SHORT)
_EXTENDED = int(AddrMode.EXTENDED)


class Adapter:
    """6LoWPAN adaptation for one node of a PAN (RFC 4944, RFC 6282, IEEE 802.15.4-2006).

    `addressing` is "short" or "extended": which source/destination addresses the
    node's unicast frames carry. Construct one per node: each owns the reassembly
    buffers for frames that node receives.
    """

    def __init__(
        self, pan_id: int, addressing: str, prefix: IPv6Network, *,
        timeout_s: float = REASSEMBLY_TIMEOUT_S,
    ) -> None:
        if addressing not in ("short", "extended"):
            raise ValueError(f"addressing {addressing!r}: expected 'short' or 'extended'")
        if prefix.prefixlen != 64:
            raise ValueError(f"PAN prefix {prefix} is not a /64")
        self.pan_id = pan_id
        self.addressing = addressing
        self.extended = addressing == "extended"
        self.contexts = {0: prefix.network_address.packed[:8]}
        self.reassembler = Reassembler(contexts=self.contexts, timeout_s=timeout_s)
        self._mode = _EXTENDED if self.extended else _SHORT
        # Largest 6LoWPAN payload per frame, for unicast and for broadcast (short dst).
        self.max_payload = mac.MAX_PSDU - mac.header_length(self._mode, self._mode)
        self.max_broadcast_payload = mac.MAX_PSDU - mac.header_length(_SHORT, self._mode)
        self._ll_cache: dict[int, bytes] = {}
        self._ll_of_frame: dict[tuple[int, int], bytes] = {}

    # -- addresses --------------------------------------------------------

    def _address(self, short: int) -> tuple[int, int, bytes]:
        """(mode, MAC address, link-layer bytes for IPHC) of a node or of broadcast."""
        if short == BROADCAST_SHORT or not self.extended:
            return _SHORT, short, short.to_bytes(2, "big")
        address = eui64(short)
        return _EXTENDED, address, address.to_bytes(8, "big")

    def link_layer(self, short: int) -> bytes:
        """The link-layer address bytes IPHC derives IIDs from (2 or 8 bytes)."""
        ll = self._ll_cache.get(short)
        if ll is None:
            ll = self._ll_cache[short] = self._address(short)[2]
        return ll

    # -- sending ------------------------------------------------------------

    def to_payloads(
        self, ipv6_packet: bytes, src_short: int, dst_short: int, tag: int
    ) -> list[bytes]:
        """6LoWPAN payloads (IPHC, or FRAG1 + FRAGN...) each fitting one MAC frame."""
        limit = self.max_broadcast_payload if dst_short == BROADCAST_SHORT else self.max_payload
        return fragment(
            ipv6_packet, src_ll=self.link_layer(src_short), dst_ll=self.link_layer(dst_short),
            contexts=self.contexts, tag=tag, max_payload=limit,
        )

    def frame(
        self, seq: int, src_short: int, dst_short: int, payload: bytes, ack_request: bool
    ) -> bytes:
        """A data frame PSDU carrying `payload`; broadcast never requests an ACK."""
        dst_mode, dst, _ = self._address(dst_short)
        src_mode, src, _ = self._address(src_short)
        return mac.encode_data(
            seq=seq & 0xFF, pan_id=self.pan_id, dst=dst, dst_mode=dst_mode, src=src,
            src_mode=src_mode, payload=payload,
            ack_request=ack_request and dst_short != BROADCAST_SHORT,
        )

    def to_frames(
        self, ipv6_packet: bytes, src_short: int, dst_short: int, *, seq: int, tag: int,
        ack_request: bool = True,
    ) -> list[bytes]:
        """PSDUs for one IPv6 packet, sequence numbers seq, seq+1, ... (mod 256)."""
        return [
            self.frame(seq + i, src_short, dst_short, payload, ack_request)
            for i, payload in enumerate(self.to_payloads(ipv6_packet, src_short, dst_short, tag))
        ]

    # -- receiving ------------------------------------------------------------

    def from_frame(self, frame: MacFrame, now: float) -> bytes | None:
        """Feed one received data frame; the IPv6 packet once complete, else None."""
        return self.reassembler.add(
            self._frame_ll(frame.src_mode, frame.src), self._frame_ll(frame.dst_mode, frame.dst),
            frame.payload, now,
        )

    def deliver(self, psdu: bytes, now: float, *, check_fcs: bool = True) -> bytes | None:
        """Decode a PSDU (FCS checked unless `check_fcs=False`: the radio medium hands over
        PSDUs its own adapters framed and its channel never alters) and feed it; None for
        ACKs and other non-data frames."""
        frame = mac.decode(psdu, check_fcs=check_fcs)
        if frame.frame_type != mac.FrameType.DATA or frame.src is None or frame.dst is None:
            return None
        return self.from_frame(frame, now)

    def _frame_ll(self, mode: int, address: int | None) -> bytes:
        key = (mode, address or 0)
        ll = self._ll_of_frame.get(key)
        if ll is None:
            ll = (address or 0).to_bytes(8 if mode == _EXTENDED else 2, "big")
            self._ll_of_frame[key] = ll
        return ll
