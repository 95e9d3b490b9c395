"""Energy: radio model over the medium's activity log, platform profiles, Energest, power meters.

radio_model.py  per-node radio state times (tx, rx, listen, sleep) for an RDC mode
profiles.py     platform currents and voltage, each figure with its source
energest.py     Contiki-NG simple-energest "Period summary" blocks from a console
meters.py       power-meter sample streams (PPK2, serial current/voltage lines, IoT-LAB .oml)
report.py       results.json's nodes.<n> figures and `energy` section
"""
