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

#: The pair with its sensor named as the apps' examples name it (s1).
SENSOR_PAIR = PAIR.replace("n1", "s1")

#: A border router and two sensors one hop away: one sensor can be disturbed beside a calm one.
TWO_SENSORS = """\
name: two-sensors
nodes:
  br: {role: border-router}
  s1: {role: sensor}
  s2: {role: sensor}
links:
  - [br, s1]
  - [br, s2]
"""
