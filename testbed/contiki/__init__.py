"""Contiki-NG firmware of the testbed: the pinned Contiki-NG tree and the builds made with it.

What it is: `tree` provides Contiki-NG 5.0 (+ CMSIS 5 core headers) at build/contiki-ng from
../shared/vendor or upstream git, checked against pins; `build` runs Contiki's own make for one
app of nodes/contiki/ and caches the result. What it is not: the node platform that runs a
native build on the emulated medium (nodes/contiki/platform/, testbed/backends/), nor memory
figures (testbed/memory/).
"""
