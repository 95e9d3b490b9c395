"""Energy figures of one variant's run directory: results.json's `nodes` and `energy`.

What it is: `measure_energy(directory, sensors=..., interval_s=..., settings=...)` reads
radio.csv + medium.json (+ deliveries.jsonl) of a variant and returns
``(nodes, energy)``: ``nodes[n] = {tx_s, rx_s, energy_mj}`` (DESIGN.md contract; tx_s/rx_s are
the emulated always-on radio's times, energy_mj that of the chosen mode) and the `energy`
section below. `rewrite_energy(run_dir, ...)` recomputes a finished run's sections with
other settings. What it is not: a new measurement; everything comes from the run's files.

Energy (mJ) = Σ over states of time (s) x current (mA) x voltage (V), with the profile's
currents (profiles.py). From the medium's log there is no CPU time: these figures are
RADIO-ONLY (``radio_only: true``), and so are the lab's Energest figures
(energest_energy_section: the radio's states only, no CPU term).

Per reading, at the scenario's reading rate (one reading per sensor every interval_s), so
that how long the run happened to last does not count: the idle current I0 of the mode
(always-on: listen current; contikimac: the channel checks' duty cycle at listen current, the
rest at sleep current) over one interval, plus the run's charge above I0 x span (the traffic:
set-up, readings, forwarding, retries) per delivered reading:
    E_reading = V x (I0 x interval_s + (Q_run - I0 x span) / readings)
`per_reading_mj.sensors` is that over all the sensors' readings; `traffic` is the part above
the idle baseline (negative on always-on radios whose TX draws less than RX, e.g. the
CC2420: sending is cheaper than listening); `network` adds the relays' and border router's
traffic and baseline; a node's `run_mj_per_reading` is its energy over the whole run / its readings.

What a protocol costs the radio, apart from the idle floor every variant pays alike
(`idle_floor_mj`: I0 x interval_s x V, one reading interval of the mode's idle current), is
`per_reading_mj.protocol`: the sensors' own radio time priced at its state's current, per
delivered reading:
    E_protocol = V x (tx_s x I_tx + rx_s x I_rx + woken_s x I_listen) / readings
where woken_s is the listening beyond the mode's channel checks (ContikiMAC: the wake-ups and
strobes' listening the traffic causes; always-on: none, all listening is the floor). It
never goes negative and grows with the protocol's radio time, which `traffic` does not on a
radio whose TX draws less than its listening.

Contiki nodes (logs/<node>.console with simple-energest summaries) add `energest`: each
node's own Energest times next to the medium's for the same window (energest_medium.py).

Battery lifetime (days) of a node at that rate: I = I0 + (Q_run - I0 x span) / readings /
interval_s; lifetime = capacity_mAh / I / 24. Set-up (XMPP session, CoAP registration) is
inside Q_run: a short run charges it to few readings; a longer run amortises it further.
Default battery: 2 x AA in series, 2500 mAh at 3 V.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from testbed.energy.energest_medium import compare_energest
from testbed.energy.profiles import DEFAULT_PROFILE, Profile, get_profile
from testbed.energy.radio_model import (
    CHECK_S,
    DEFAULT_WAKEUP_S,
    RadioTimes,
    RdcMode,
    parse_mode,
    radio_times,
)
from testbed.errors import BadInput
from testbed.jsonlines import read_json_lines, write_json_atomic
from testbed.radio.activity import read_activity

STATES = ("tx", "rx", "listen", "sleep")


@dataclass(frozen=True, slots=True, kw_only=True)
class Battery:
    capacity_mah: float = 2500.0
    voltage_v: float = 3.0
    title: str = "2xAA"


@dataclass(frozen=True, slots=True, kw_only=True)
class EnergySettings:
    profile: str = DEFAULT_PROFILE
    mode: RdcMode = RdcMode.ALWAYS_ON
    wakeup_s: float = DEFAULT_WAKEUP_S
    phase_lock: bool = True
    battery: Battery = Battery()

    @classmethod
    def of(cls, *, profile: str = DEFAULT_PROFILE, mode: str = "always-on",
           wakeup_ms: float = DEFAULT_WAKEUP_S * 1000, battery_mah: float = 2500.0
           ) -> EnergySettings:
        get_profile(profile)
        if wakeup_ms <= 0 or battery_mah <= 0:
            raise BadInput("wake-up interval and battery capacity must be positive")
        return cls(profile=profile.lower(), mode=parse_mode(mode), wakeup_s=wakeup_ms / 1000,
                   battery=Battery(capacity_mah=battery_mah))


def state_energy_mj(times: RadioTimes, profile: Profile) -> dict[str, float]:
    """mJ per radio state: seconds x mA x V."""
    return {s: getattr(times, f"{s}_s") * profile.radio_ma(s) * profile.voltage_v
            for s in STATES}




def protocol_charge_mc(times: RadioTimes, profile: Profile, settings: EnergySettings) -> float:
    """mC of the radio time the traffic itself took (module docstring: E_protocol)."""
    checks_s = 0.0 if settings.mode is RdcMode.ALWAYS_ON else (
        CHECK_S / settings.wakeup_s * times.span_s)
    woken_s = 0.0 if settings.mode is RdcMode.ALWAYS_ON else max(times.listen_s - checks_s, 0.0)
    return (times.tx_s * profile.tx_ma + times.rx_s * profile.rx_ma
            + woken_s * profile.listen_ma)


def idle_current_ma(profile: Profile, settings: EnergySettings) -> float:
    """The mode's current with no traffic at all (module docstring)."""
    if settings.mode is RdcMode.ALWAYS_ON:
        return profile.listen_ma
    duty = CHECK_S / settings.wakeup_s
    return duty * profile.listen_ma + (1 - duty) * profile.sleep_ma


def read_sent(logs: Path, nodes: Iterable[str]) -> dict[str, set[int]]:
    """The readings each node says it sent (its logs/<node>.jsonl "reading" events)."""
    sent: dict[str, set[int]] = {}
    for node in nodes:
        seqs = set()
        for e in read_json_lines(Path(logs) / f"{node}.jsonl"):
            try:
                if e.get("event") == "reading":
                    seqs.add(int(e["seq"]))
            except (KeyError, TypeError, ValueError):
                continue
        sent[node] = seqs
    return sent


def read_delivered(path: Path, sent: Mapping[str, set[int]] | None = None) -> dict[str, int]:
    """Distinct (node, seq) readings in deliveries.jsonl (seq 0 is a state, not a reading);
    with `sent`, only those a node says it sent count, as in results.json's readings."""
    seen: set[tuple[str, int]] = set()
    for d in read_json_lines(path):
        try:
            node, seq = str(d["node"]), int(d["seq"])
        except (KeyError, TypeError, ValueError):
            continue
        if seq > 0 and (sent is None or seq in sent.get(node, ())):
            seen.add((node, seq))
    counts: dict[str, int] = {}
    for node, _seq in seen:
        counts[node] = counts.get(node, 0) + 1
    return counts


def contikimac_figures(energy: Mapping[str, Any]) -> Mapping[str, Any]:
    """An `energy` section's ContikiMAC figures (mode, wakeup_ms, per_reading_mj,
    lifetime_days): the chosen mode's when it is ContikiMAC, else the ones computed beside it
    (other_modes); empty for a run without them (Energest only)."""
    if energy.get("mode") == "contikimac":
        return energy
    return (energy.get("other_modes") or {}).get("contikimac") or {}


def duty_cycled_mj(energy: Mapping[str, Any]) -> float | None:
    """The sensors' mJ per reading under ContikiMAC (contikimac_figures), or None."""
    value = (contikimac_figures(energy).get("per_reading_mj") or {}).get("sensors")
    return float(value) if isinstance(value, (int, float)) else None


def _round(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(x, digits)


def _mode_figures(times: Mapping[str, RadioTimes], profile: Profile, settings: EnergySettings,
                  *, sensors: Iterable[str], delivered: Mapping[str, int],
                  interval_s: float, sent: Mapping[str, int] | None = None) -> dict[str, Any]:
    sensors = tuple(sensors)
    v = profile.voltage_v
    i0 = idle_current_ma(profile, settings)
    nodes: dict[str, Any] = {}
    excess_mc: dict[str, float] = {}
    protocol_mc: dict[str, float] = {}
    for name, t in times.items():
        protocol_mc[name] = protocol_charge_mc(t, profile, settings)
        mj = state_energy_mj(t, profile)
        total = sum(mj.values())
        charge_mc = total / v
        excess_mc[name] = charge_mc - i0 * t.span_s   # the traffic's charge above idle
        n = delivered.get(name, 0)
        # the node spends its traffic charge on every reading it sends, delivered or not:
        # the lifetime's average current divides by readings sent
        n_sent = (sent or {}).get(name) or n
        per_reading = lifetime = None
        if n and interval_s > 0:
            per_reading = (i0 * interval_s + excess_mc[name] / n) * v
            current = max(i0 + excess_mc[name] / n_sent / interval_s, 1e-9)
            lifetime = settings.battery.capacity_mah / current / 24
        nodes[name] = {
            "role": "sensor" if name in sensors else "relay",
            **{f"{s}_s": _round(getattr(t, f"{s}_s")) for s in STATES},
            "energy_mj": {**{s: _round(x, 4) for s, x in mj.items()}, "total": _round(total, 4)},
            "avg_current_ma": _round(charge_mc / t.span_s, 4),
            "delivered": n,
            "per_reading_mj": _round(per_reading, 4),
            "run_mj_per_reading": _round(total / n, 4) if n else None,
            "lifetime_days": _round(lifetime, 3),
            "terms_s": {k: _round(x) for k, x in t.terms.items()},
        }
    readings = sum(delivered.get(s, 0) for s in sensors)
    per_reading: dict[str, float | None] = {"sensors": None, "network": None, "traffic": None,
                                            "protocol": None}
    if readings and interval_s > 0:
        traffic = sum(excess_mc.get(s, 0.0) for s in sensors) * v / readings
        network = sum(excess_mc.values()) * v / readings
        baseline = i0 * interval_s * v
        per_reading = {
            "sensors": _round(baseline + traffic, 4),
            "network": _round(network + baseline * len(times) / max(len(sensors), 1), 4),
            "traffic": _round(traffic, 4),
            "protocol": _round(sum(protocol_mc.get(s, 0.0) for s in sensors) * v / readings, 4),
        }
    return {
        "mode": str(settings.mode),
        "wakeup_ms": settings.wakeup_s * 1000 if settings.mode is RdcMode.CONTIKIMAC else None,
        "phase_lock": settings.phase_lock if settings.mode is RdcMode.CONTIKIMAC else None,
        "idle_current_ma": _round(i0, 4),
        "idle_floor_mj": _round(i0 * interval_s * v, 4) if interval_s > 0 else None,
        "nodes": nodes,
        "per_reading_mj": per_reading,
        "lifetime_days": {s: nodes[s]["lifetime_days"] for s in sensors if s in nodes},
    }


def measure_energy(directory: str | Path, *, sensors: Iterable[str], interval_s: float,
                   settings: EnergySettings = EnergySettings()
                   ) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """(`nodes`, `energy`) of one variant directory (module docstring)."""
    directory = Path(directory)
    sensors = tuple(sensors)
    profile = get_profile(settings.profile)
    try:
        medium = json.loads((directory / "medium.json").read_text())
        span_s = float(medium["duration_s"])
        t0_unix = float(medium.get("t0_unix") or 0.0)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{directory / 'medium.json'}: no run span ({exc})") from exc
    activities = read_activity(directory / "radio.csv")
    sent_seqs = read_sent(directory / "logs", sensors)
    delivered = read_delivered(directory / "deliveries.jsonl",
                               sent_seqs if any(sent_seqs.values()) else None)
    sent = {node: len(seqs) for node, seqs in sent_seqs.items()}
    always = radio_times(activities, span_s, nodes=sensors)
    modes = {RdcMode.ALWAYS_ON: replace(settings, mode=RdcMode.ALWAYS_ON),
             RdcMode.CONTIKIMAC: replace(settings, mode=RdcMode.CONTIKIMAC)}
    figures = {}
    for mode, mode_settings in modes.items():
        times = always if mode is RdcMode.ALWAYS_ON else radio_times(
            activities, span_s, mode=mode, wakeup_s=settings.wakeup_s,
            phase_lock=settings.phase_lock, nodes=sensors)
        figures[mode] = _mode_figures(times, profile, mode_settings, sensors=sensors,
                                      delivered=delivered, interval_s=interval_s, sent=sent)
    chosen = figures[settings.mode]
    nodes = {name: {"tx_s": _round(t.tx_s), "rx_s": _round(t.rx_s),
                    "energy_mj": chosen["nodes"][name]["energy_mj"]["total"]}
             for name, t in always.items()}
    energy = {
        "profile": profile.to_json(),
        "radio_only": True,
        "battery": {"title": settings.battery.title,
                    "capacity_mah": settings.battery.capacity_mah,
                    "voltage_v": settings.battery.voltage_v},
        "span_s": _round(span_s),
        "interval_s": interval_s,
        **chosen,
        "other_modes": {str(m): {k: f[k] for k in ("mode", "wakeup_ms", "per_reading_mj",
                                                   "lifetime_days")}
                        for m, f in figures.items() if m is not settings.mode},
    }
    # issue 07: Contiki nodes' own Energest beside the medium's times (energest_medium.py)
    energest = compare_energest(directory, activities, t0_unix=t0_unix, span_s=span_s)
    if energest is not None:
        energy["energest"] = energest
    return nodes, energy


def energest_energy_section(directory: str | Path, *, sensors: Iterable[str],
                            interval_s: float, settings: EnergySettings = EnergySettings()
                            ) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """(`nodes`, `energy`) of a variant whose air no medium modelled (a lab of real boards):
    each sensor's radio times from its own Energest (logs/<node>.console: Radio Tx as TX,
    Radio Rx, which Contiki counts while the radio listens or receives, as listen, the rest as
    sleep), over its complete periods, priced by the same figures as the medium's times.
    `source: "energest"` says so; there is no duty-cycle model to recompute (other_modes is
    empty): the node's radio did what its firmware did."""
    from testbed.energy.energest import parse_energest, ticks_per_second_of

    directory = Path(directory)
    sensors = tuple(sensors)
    profile = get_profile(settings.profile)
    logs = directory / "logs"
    sent_seqs = read_sent(logs, sensors)
    delivered = read_delivered(directory / "deliveries.jsonl",
                               sent_seqs if any(sent_seqs.values()) else None)
    times: dict[str, RadioTimes] = {}
    for node in sensors:
        try:
            text = (logs / f"{node}.console").read_text(errors="replace")
        except OSError:
            continue
        totals = parse_energest(text, ticks_per_second=ticks_per_second_of(text)).totals()
        if totals["total_s"] <= 0:
            continue
        times[node] = RadioTimes(node=node, span_s=totals["total_s"], tx_s=totals["tx_s"],
                                 rx_s=0.0, listen_s=totals["rx_s"],
                                 sleep_s=max(totals["total_s"] - totals["tx_s"]
                                             - totals["rx_s"], 0.0))
    if not times:
        raise BadInput(f"{logs}: no sensor console holds a complete Energest period")
    always = replace(settings, mode=RdcMode.ALWAYS_ON)
    chosen = _mode_figures(times, profile, always, sensors=sensors, delivered=delivered,
                           interval_s=interval_s,
                           sent={n: len(seqs) for n, seqs in sent_seqs.items()})
    nodes = {name: {"tx_s": _round(t.tx_s), "rx_s": _round(t.listen_s),
                    "energy_mj": chosen["nodes"][name]["energy_mj"]["total"]}
             for name, t in times.items()}
    energy = {
        "source": "energest",
        "profile": profile.to_json(),
        "radio_only": True,
        "battery": {"title": settings.battery.title,
                    "capacity_mah": settings.battery.capacity_mah,
                    "voltage_v": settings.battery.voltage_v},
        "span_s": _round(max(t.span_s for t in times.values())),
        "interval_s": interval_s,
        **chosen,
        "other_modes": {},
    }
    return nodes, energy


def rewrite_energy(run_dir: str | Path, *, sensors: Iterable[str],
                   settings: EnergySettings) -> Path:
    """Recompute every variant's `nodes` and `energy` in run_dir/results.json (atomically)."""
    path = Path(run_dir) / "results.json"
    try:
        data = json.loads(path.read_text())
        interval_s = float(data["interval_s"])
        variants = data["variants"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{path}: not a results.json ({exc})") from exc
    sensors = tuple(sensors)
    for name, variant in variants.items():
        directory = Path(run_dir) / name
        if (directory / "radio.csv").exists() and (directory / "medium.json").exists():
            nodes, variant["energy"] = measure_energy(
                directory, sensors=sensors, interval_s=interval_s, settings=settings)
            old = variant.get("nodes") or {}  # keep what is not energy (issue 06 reconnects)
            variant["nodes"] = {n: {**old.get(n, {}), **f} for n, f in nodes.items()}
    return write_json_atomic(path, data)
