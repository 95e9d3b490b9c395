"""IEEE 802.15.4-2006 §7.2 frames: hand-computed vectors, round trips, scapy both ways, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.config import conf
from scapy.layers.dot15d4 import Dot15d4Ack, Dot15d4Data, Dot15d4FCS

from testbed.errors import FrameError
from testbed.lowpan import mac
from testbed.lowpan.fcs import fcs16
from testbed.lowpan.mac import AddrMode, FrameType

conf.dot15d4_protocol = "sixlowpan"

addr_modes = st.sampled_from([AddrMode.SHORT, AddrMode.EXTENDED])


def address(mode: AddrMode) -> st.SearchStrategy[int]:
    return st.integers(0, 0xFFFF if mode == AddrMode.SHORT else 2**64 - 1)


@st.composite
def data_frames(draw: st.DrawFn) -> dict:
    dst_mode, src_mode = draw(addr_modes), draw(addr_modes)
    header = mac.header_length(dst_mode, src_mode)
    return {
        "seq": draw(st.integers(0, 255)),
        "pan_id": draw(st.integers(0, 0xFFFF)),
        "dst_mode": dst_mode,
        "dst": draw(address(dst_mode)),
        "src_mode": src_mode,
        "src": draw(address(src_mode)),
        "payload": draw(st.binary(max_size=mac.MAX_PSDU - header)),
        "ack_request": draw(st.booleans()),
        "frame_pending": draw(st.booleans()),
    }


def test_short_addresses_with_pan_id_compression_cost_11_bytes() -> None:
    assert mac.header_length(AddrMode.SHORT, AddrMode.SHORT) == 11
    psdu = mac.encode_data(
        seq=0x2A, pan_id=0xABCD, dst=0x0002, dst_mode=AddrMode.SHORT, src=0x0001,
        src_mode=AddrMode.SHORT, payload=b"", ack_request=True,
    )
    # FCF 0x8861: data, ack request, PAN ID compression, dst mode 2, src mode 2, version 0.
    assert psdu[:9] == bytes.fromhex("61882acdab02000100")
    assert psdu[9:] == fcs16(psdu[:9]).to_bytes(2, "little")
    assert mac.MAX_PSDU - mac.header_length(AddrMode.SHORT, AddrMode.SHORT) == 116


def test_extended_addresses_cost_23_bytes() -> None:
    assert mac.header_length(AddrMode.EXTENDED, AddrMode.EXTENDED) == 23
    assert mac.MAX_PSDU - mac.header_length(AddrMode.EXTENDED, AddrMode.EXTENDED) == 104
    psdu = mac.encode_data(
        seq=1, pan_id=0xABCD, dst=0x0200_00FF_FE00_0002, dst_mode=AddrMode.EXTENDED,
        src=0x0200_00FF_FE00_0001, src_mode=AddrMode.EXTENDED, payload=b"", ack_request=False,
    )
    assert len(psdu) == 23
    assert psdu[:5] == bytes.fromhex("41cc01cdab")  # FCF 0xcc41, seq, PAN LE
    assert psdu[5:13] == bytes.fromhex("020000feff000002")  # EUI-64, little-endian on air


def test_header_length_without_pan_id_compression() -> None:
    assert mac.header_length(AddrMode.SHORT, AddrMode.SHORT, pan_id_compression=False) == 13
    assert mac.header_length(AddrMode.NONE, AddrMode.SHORT) == 9  # source PAN carried


def test_ack_is_5_bytes() -> None:
    ack = mac.encode_ack(0x56)
    assert len(ack) == 5
    assert ack[:3] == b"\x02\x00\x56"
    frame = mac.decode(mac.encode_ack(0x56, frame_pending=True))
    assert (frame.frame_type, frame.seq, frame.frame_pending) == (FrameType.ACK, 0x56, True)
    assert frame.dst is None and frame.src is None and frame.payload == b""


@given(data_frames())
def test_round_trip(fields: dict) -> None:
    psdu = mac.encode_data(**fields)
    assert len(psdu) == mac.header_length(fields["dst_mode"], fields["src_mode"]) + len(
        fields["payload"]
    )
    frame = mac.decode(psdu)
    assert frame.frame_type == FrameType.DATA
    for name, value in fields.items():
        assert getattr(frame, name) == value, name
    assert frame.pan_id_compression and frame.src_pan_id == fields["pan_id"]


@given(data_frames())
def test_scapy_decodes_ours(fields: dict) -> None:
    psdu = mac.encode_data(**fields)
    parsed = Dot15d4FCS(psdu)
    assert parsed.fcf_frametype == 1
    assert parsed.seqnum == fields["seq"]
    assert parsed.fcf_ackreq == fields["ack_request"]
    assert parsed.fcf_pending == fields["frame_pending"]
    assert parsed.fcf_panidcompress == 1
    assert parsed.fcf_destaddrmode == fields["dst_mode"]
    assert parsed.fcf_srcaddrmode == fields["src_mode"]
    data = parsed[Dot15d4Data]
    assert (data.dest_panid, data.dest_addr, data.src_addr) == (
        fields["pan_id"], fields["dst"], fields["src"]
    )
    assert parsed.fcs.to_bytes(2, "little") == Dot15d4FCS().compute_fcs(psdu[:-2])


@given(data_frames(), st.booleans())
def test_ours_decodes_scapy(fields: dict, compress: bool) -> None:
    built = Dot15d4FCS(
        fcf_frametype=1, fcf_ackreq=fields["ack_request"], fcf_pending=fields["frame_pending"],
        fcf_panidcompress=compress, fcf_destaddrmode=fields["dst_mode"],
        fcf_srcaddrmode=fields["src_mode"], seqnum=fields["seq"],
    ) / Dot15d4Data(
        dest_panid=fields["pan_id"], dest_addr=fields["dst"], src_panid=0x1234,
        src_addr=fields["src"],
    )
    psdu = bytes(built)
    # scapy computes the FCS over the header only; put the payload in by hand.
    body = psdu[:-2] + fields["payload"]
    frame = mac.decode((body + fcs16(body).to_bytes(2, "little"))[: mac.MAX_PSDU])
    assert (frame.dst, frame.src, frame.seq) == (fields["dst"], fields["src"], fields["seq"])
    assert frame.src_pan_id == (fields["pan_id"] if compress else 0x1234)


def test_ours_decodes_scapy_ack() -> None:
    frame = mac.decode(bytes(Dot15d4FCS(fcf_frametype=2, seqnum=9) / Dot15d4Ack()))
    assert (frame.frame_type, frame.seq) == (FrameType.ACK, 9)


@given(data_frames(), st.data())
def test_every_truncation_names_an_offset(fields: dict, data: st.DataObject) -> None:
    psdu = mac.encode_data(**fields)
    header = mac.header_length(fields["dst_mode"], fields["src_mode"]) - 2
    cut = data.draw(st.integers(0, header - 1))
    short = psdu[:cut] + bytes(2)
    with pytest.raises(FrameError, match=r"^offset \d+: frame truncated"):
        mac.decode(short, check_fcs=False)


def test_truncated_destination_address_offset() -> None:
    psdu = bytes.fromhex("61882acdab02")  # cut inside the destination address
    with pytest.raises(FrameError, match=r"offset 5: frame truncated: 2-byte destination address"):
        mac.decode(psdu + fcs16(psdu).to_bytes(2, "little"))


def test_bad_fcs_names_its_offset() -> None:
    psdu = bytearray(mac.encode_data(
        seq=1, pan_id=1, dst=2, dst_mode=2, src=3, src_mode=2, payload=b"abc", ack_request=False,
    ))
    psdu[-1] ^= 0xFF
    with pytest.raises(FrameError, match=r"^offset 12: bad FCS"):
        mac.decode(bytes(psdu))


def test_reserved_address_mode() -> None:
    body = bytes.fromhex("41c4") + bytes(10)  # dst mode 1 (reserved)
    with pytest.raises(FrameError, match=r"offset 1: reserved destination addressing mode"):
        mac.decode(body + fcs16(body).to_bytes(2, "little"))


def test_too_short_and_too_long() -> None:
    with pytest.raises(FrameError, match=r"offset 3: frame truncated"):
        mac.decode(b"\x02\x00\x01")
    with pytest.raises(FrameError, match=r"offset 127: frame of 128 bytes"):
        mac.decode(bytes(128))


def test_encode_refuses_frames_over_127_bytes() -> None:
    kwargs = dict(seq=0, pan_id=1, dst=2, dst_mode=2, src=3, src_mode=2, ack_request=False)
    assert len(mac.encode_data(payload=bytes(116), **kwargs)) == 127
    with pytest.raises(FrameError, match="exceeds aMaxPHYPacketSize 127"):
        mac.encode_data(payload=bytes(117), **kwargs)


def test_beacon_and_command_headers_decode() -> None:
    # Beacon: no destination, short source with its PAN (frame version 1).
    beacon = bytes.fromhex("0090") + b"\x07" + bytes.fromhex("cdab0100") + b"\xff\xcf"
    psdu = beacon + fcs16(beacon).to_bytes(2, "little")
    frame = mac.decode(psdu)
    assert (frame.frame_type, frame.version, frame.pan_id, frame.src_pan_id, frame.src) == (
        FrameType.BEACON, 1, None, 0xABCD, 1
    )
    assert frame.payload == b"\xff\xcf"
    command = bytes.fromhex("43c8") + b"\x01" + bytes.fromhex("cdabffff") + bytes(8) + b"\x04"
    frame = mac.decode(command + fcs16(command).to_bytes(2, "little"))
    assert (frame.frame_type, frame.dst, frame.src_mode, frame.payload) == (
        FrameType.MAC_COMMAND, 0xFFFF, AddrMode.EXTENDED, b"\x04"
    )
