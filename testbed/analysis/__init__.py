"""Every byte on the air, attributed: by layer, by purpose, to a reading, to session set-up or
to overhead (`account.analyze`), and the fast totals path (`totals.capture_totals`).

What it is not: a dissector for people (tshark is that) nor a capture reader (testbed.capture).
"""
