"""Small topologies the tests share, as YAML text (parse with testbed.config.parse_topology)."""

#: The smallest network: a border router and one sensor one hop away.
PAIR = """\
name: pair
nodes:
  br: {role: border-router}
  n1: {role: sensor}
links:
  - [br, n1]
"""
