"""IEEE 802.15.4 + 6LoWPAN codec, the fast path the radio medium runs on every frame.

fcs (CRC-16/ITU-T), mac (IEEE 802.15.4-2006 frames), iphc (RFC 6282 header compression),
frag (RFC 4944 fragmentation and reassembly), adapter (all of it for one node), addresses
(the one mapping from a node's short address to its other addresses). Pure Python + stdlib;
scapy and tshark appear only in the tests and benchmarks, as independent references.
"""
