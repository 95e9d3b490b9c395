"""Reading captures: pcap files of IEEE 802.15.4 frames (LINKTYPE 195) written by the medium."""
