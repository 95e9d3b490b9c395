"""The emulated IEEE 802.15.4 radio medium (a separate process, `python -m testbed.radio.medium`).

phy.py       PHY/MAC constants and frame airtime
core.py      discrete-event channel + per-node MAC (CSMA-CA, ACKs, retries), injected clock
activity.py  RadioActivity records and the radio.csv writer (status values documented there)
pcap.py      LINKTYPE 195 capture writer
spec.py      the medium's SPEC.json model
tap.py       attach to a persistent TAP in another network namespace
ethernet.py  which TAP frames go on the air; Ethernet <-> 802.15.4 addresses
lateness.py  how late the live loop runs events
frameport.py the frame port's wire format and server (nodes with their own MAC: Contiki-NG)
medium.py    the live process: TAPs + lowpan Adapter + core, frame ports, in real time
"""
