"""IEEE 802.15.4 2.4 GHz O-QPSK PHY and MAC timing constants, and frame airtime.

What it is: the numbers the radio medium's model runs on, in seconds and bytes,
each with the clause of IEEE 802.15.4-2006 it comes from (REFERENCES.md). What it
is not: a PHY simulation (no symbols, no chips, no RSSI): a frame is a time span
on the channel.
"""

from __future__ import annotations

from testbed.lowpan import mac

#: 250 kbit/s, 62.5 ksymbol/s: 16 µs per symbol, 2 symbols per byte (§6.5.1).
BIT_RATE = 250_000
SYMBOL_S = 16e-6
BYTE_S = 32e-6

#: Synchronization header (preamble 4 + SFD 1) + PHY header (frame length 1), §6.3.
SHR_PHR_BYTES = 6

#: aMaxPHYPacketSize, §6.4.1: the largest PSDU (MHR + payload + FCS); the codec owns it.
MAX_PSDU = mac.MAX_PSDU

#: PSDU of an acknowledgment frame: FCF 2 + sequence number 1 + FCS 2 (§7.2.2.3).
ACK_PSDU = 5

#: aTurnaroundTime, §6.4.1: 12 symbols to switch RX <-> TX (an ACK starts this long
#: after the end of the frame it acknowledges, §7.5.6.4.2).
TURNAROUND_S = 12 * SYMBOL_S

#: aUnitBackoffPeriod, §7.4.1: 20 symbols.
UNIT_BACKOFF_S = 20 * SYMBOL_S

#: CCA detection time, §6.9.9: 8 symbols.
CCA_S = 8 * SYMBOL_S

#: MAC PIB defaults, §7.4.2 (Table 86).
MAC_MIN_BE = 3
MAC_MAX_BE = 5
MAC_MAX_CSMA_BACKOFFS = 4
MAC_MAX_FRAME_RETRIES = 3

#: macAckWaitDuration for the 2.4 GHz PHY, §7.4.2: aUnitBackoffPeriod + aTurnaroundTime
#: + phySHRDuration + ceil(6 * phySymbolsPerOctet) = 20 + 12 + 10 + 12 = 54 symbols.
MAC_ACK_WAIT_S = 54 * SYMBOL_S


def airtime(psdu_len: int) -> float:
    """Seconds a PSDU of `psdu_len` bytes occupies the channel, SHR and PHR included.

    §6.3: every PPDU is SHR (5 bytes) + PHR (1 byte) + PSDU, sent at 32 µs a byte.
    A full 127-byte frame takes 4.256 ms; an ACK 352 µs.
    """
    return (psdu_len + SHR_PHR_BYTES) * BYTE_S
