"""Sniffer sources and capture files of IEEE 802.15.4 frames: every source yields the same
`frames.SniffedFrame` stream (PSDU with FCS) and any stream can become a LINKTYPE 195 pcap.

frames.py         SniffedFrame, FrameSink / write_pcap (LINKTYPE 195), CaptureError
sensniff.py       the sensniff v2 serial protocol: encoder, resynchronising decoder, commands
serial_source.py  SensniffSource: a sensniff board through pyserial (any port or URL)
sensniff_pty.py   SensniffPty: the emulated medium's tap as a sensniff peripheral on a pty
pcapfile.py       classic pcap reader (the medium's captures)
pcapng.py         pcapng reader (SHB/IDB/EPB/SPB, both byte orders, if_tsresol)
replay.py         PcapSource: pcap / pcapng / gzip, link types 195 and 230, as SniffedFrames
live.py           one console line per frame, decoded with scapy (`testbed sniff`)
"""
