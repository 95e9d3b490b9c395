"""Power-meter recordings as the meters write them, for the parser's and the CLI's tests."""

from __future__ import annotations

OML_HEADER = """protocol: 4
domain: 12345
start-time: 1491480498
sender-id: m3-10
app-name: control_node_measures
schema: 0 _experiment_metadata subject:string key:string value:string
schema: 1 control_node_measures_consumption timestamp_s:uint32 timestamp_us:uint32 \
power:double voltage:double current:double
content: text

"""


def oml_row(seq: int, t: float, current_a: float, voltage: float = 3.0) -> str:
    s, us = int(t), round((t - int(t)) * 1e6)
    return (f"{t:.6f}\t1\t{seq}\t{1491480498 + s}\t{us}\t{current_a * voltage:.6f}"
            f"\t{voltage}\t{current_a}")
