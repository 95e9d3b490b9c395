"""Memory figures of the node apps: heap on a real MicroPython, bytecode size, ELF ROM/RAM.

What it is: measurements (raw_repl, heap, bytecode, elf, process) and the results.json `memory`
section (summary). What it is not: a board backend: QEMU and serial boards live in
testbed/backends/ and are handed in as something that yields a serial port.
"""
