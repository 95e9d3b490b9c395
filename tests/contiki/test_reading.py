"""nodes/contiki/common (reading values, payloads, event lines, configuration) against the
Python node apps' own functions, byte for byte.

The C side is the real code, built with the host gcc into a small driver
(nodes/contiki/common/tests/reading-driver.c, no Contiki needed: the Linux-hosted branches);
the Python side is imported from nodes/common/reading.py (both apps' payloads and values) and
the apps' main.py (emit), so a change to either shows up here as a difference.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
COMMON = ROOT / "nodes" / "contiki" / "common"
COAP_APP = ROOT / "nodes" / "coap-sensor"
XMPP_APP = ROOT / "nodes" / "xmpp-sensor"


def _load(name: str, path: Path):
    """Import an app module under a unique name (both apps have a main.py)."""
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


coap_main = _load("coap_sensor_main", COAP_APP / "main.py")
node_reading = _load("node_reading", ROOT / "nodes" / "common" / "reading.py")
xmpp_main = _load("xmpp_sensor_main", XMPP_APP / "main.py")


class Driver:
    """The C driver as a long-lived process: one command line in, one answer line out."""

    def __init__(self, binary: Path, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=env if env is not None else _clean_env())

    def ask(self, *words: object) -> str:
        self.process.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer, "the driver died"
        return answer.rstrip("\n")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=5)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TESTBED_")}


def hexed(text: str) -> str:
    """Strings travel as hex; "-" is the empty string."""
    return text.encode().hex() or "-"


def build_driver(out: Path, *defines: str) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("no host gcc (apt-get install gcc)")
    binary = out / "reading-driver"
    sources = [COMMON / "tests" / "reading-driver.c", COMMON / "reading.c",
               COMMON / "events.c", COMMON / "node-config.c"]
    # the flags Contiki's native build compiles with (-Wall -Werror, no -O), and -Wextra
    argv = [gcc, "-std=gnu99", "-Wall", "-Wextra", "-Werror",
            "-DCONTIKI_TARGET_NATIVE=1", *defines, "-I", str(COMMON),
            *map(str, sources), "-o", str(binary)]
    subprocess.run(argv, check=True, capture_output=True, text=True)
    return binary


@pytest.fixture(scope="module")
def driver_binary(tmp_path_factory) -> Path:
    return build_driver(tmp_path_factory.mktemp("common"))


@pytest.fixture(scope="module")
def driver(driver_binary):
    d = Driver(driver_binary)
    yield d
    d.close()


@pytest.fixture(scope="module")
def xmpp_order_driver(tmp_path_factory):
    """Built as xmpp-sensor builds it: "event" after the fields (EVENTS_CONF_EVENT_FIRST 0)."""
    d = Driver(build_driver(tmp_path_factory.mktemp("xmpp"), "-DEVENTS_CONF_EVENT_FIRST=0"))
    yield d
    d.close()


# Names as C strings carry them: any text without NUL (and no lone surrogates: not UTF-8)
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=20)
names = texts
seqs = st.integers(0, 2**32 - 1)
seeds = st.integers(-(2**31), 2**31 - 1)
times_ms = st.integers(0, 2**42)  # until the year 2109, at 1 ms resolution
tenths = st.integers(-100_000, 100_000)


def tenths_of(value: float) -> int:
    t = round(value * 10)
    assert t / 10 == value  # the Python values are tenths exactly
    return t


@settings(max_examples=300)
@given(names, texts, seqs, seeds)
def test_value_is_the_python_apps(driver, name, sensor, seq, seed):
    expected = node_reading.reading_value(name, sensor, seq, seed)
    assert int(driver.ask("value", hexed(name), hexed(sensor), seq, seed)) == tenths_of(expected)


def test_values_stay_in_range(driver):
    values = [int(driver.ask("value", hexed("s1"), hexed("temperature"), s, 1)) for s in range(50)]
    assert all(200 <= v <= 299 for v in values) and len(set(values)) > 10


@settings(max_examples=300)
@given(names, texts, seqs, times_ms, st.integers(200, 299) | tenths)
def test_senml_json_is_the_python_apps(driver, name, sensor, seq, t_ms, value):
    expected = node_reading.senml_json(name, seq, t_ms / 1000, [(sensor, value / 10)])
    got = bytes.fromhex(driver.ask("json", hexed(name), hexed(sensor), seq, t_ms, value))
    assert got == expected
    pack = json.loads(got)  # and it is JSON an independent decoder reads as the SenML pack
    assert pack[0]["bn"] == name + "/" and pack[0]["n"] == sensor
    assert pack[-1] == {"n": "seq", "v": seq}


@settings(max_examples=300)
@given(seqs, times_ms, tenths)
def test_text_payload_is_the_python_apps(driver, seq, t_ms, value):
    expected = node_reading.text("n", seq, t_ms / 1000, [("s", value / 10)]).decode()
    assert driver.ask("text", seq, t_ms, value) == expected


@settings(max_examples=300)
@given(names, texts, seqs, times_ms, st.integers(200, 299) | tenths)
def test_senml_cbor_is_the_python_apps(driver, name, sensor, seq, t_ms, value):
    expected = node_reading.senml_cbor(name, seq, t_ms / 1000, [(sensor, value / 10)])
    got = bytes.fromhex(driver.ask("cbor", hexed(name), hexed(sensor), seq, t_ms, value))
    assert got == expected
    pack = cbor2.loads(got)  # and it is CBOR an independent decoder reads as the SenML pack
    assert pack[0][-2] == name + "/" and pack[0][-3] == t_ms / 1000 and pack[0][2] == value / 10
    assert pack[1] == {0: "seq", 2: seq}


def test_senml_cbor_of_a_known_reading(driver):
    """A hand-checked vector: 22.5 fits a single float (0xfa), the time needs a double (0xfb)."""
    got = bytes.fromhex(driver.ask("cbor", hexed("s1"), hexed("temperature"), 3,
                                   1764836439123, 225))
    assert got[:2] == bytes([0x82, 0xa5])  # array(2), map(5): bn bt n u v
    assert b"\xfa\x41\xb4\x00\x00" in got  # 22.5 as a single
    assert cbor2.loads(got)[0][1] == "Cel"


def _python_line(emit, event: str, **fields) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        emit(event, **fields)
    return out.getvalue().rstrip("\n")


@settings(max_examples=200)
@given(seqs, texts, tenths, times_ms)
def test_reading_event_is_coap_sensors(driver, seq, sensor, value, t_ms):
    expected = _python_line(coap_main.emit, "reading", seq=seq, sensor=sensor,
                            value=value / 10, t=t_ms / 1000)
    assert driver.ask("reading", seq, hexed(sensor), value, t_ms) == expected


@settings(max_examples=200)
@given(seqs, texts, tenths, times_ms)
def test_reading_event_in_xmpp_sensors_key_order(xmpp_order_driver, seq, sensor, value, t_ms):
    expected = _python_line(xmpp_main.emit, "reading", seq=seq, sensor=sensor,
                            value=value / 10, t=t_ms / 1000)
    assert xmpp_order_driver.ask("reading", seq, hexed(sensor), value, t_ms) == expected


@settings(max_examples=200)
@given(texts, st.integers(0, 65535), st.binary(max_size=8), st.integers(0, 32), times_ms)
def test_observe_event_is_coap_sensors(driver, peer, port, token, handed, t_ms):
    expected = _python_line(coap_main.emit, "observe", peer=peer, port=port, token=token.hex(),
                            handed_over=handed, t=t_ms / 1000)
    assert driver.ask("observe", hexed(peer), port, hexed(token.hex()), handed, t_ms) == expected


@settings(max_examples=200)
@given(texts, times_ms)
def test_error_event_escapes_as_json_dumps(driver, what, t_ms):
    expected = _python_line(coap_main.emit, "error", what=what, t=t_ms / 1000)
    assert driver.ask("error", hexed(what), t_ms) == expected


def test_invalid_utf8_becomes_the_replacement_character(driver):
    line = driver.ask("error", "ff41", 0)
    assert line == '{"event": "error", "what": "\\ufffdA", "t": 0.0}'


def test_event_time_is_unix_time_in_ms(driver):
    before = time.time()
    now_ms = int(driver.ask("now"))
    after = time.time()
    assert int(before * 1000) <= now_ms <= int(after * 1000) + 1


@pytest.mark.parametrize(("line", "handled"), [
    ("time 1764836439123", 1), ("time 0", 1), ("time ", 0), ("time 12x", 0),
    ("time -5", 0), ("times 5", 0), ("help", 0), ("", 0),
])
def test_console_time_command(driver, line, handled):
    """A board's clock is set with the console line "time <unix ms>"; other lines are not it."""
    assert int(driver.ask("console", hexed(line))) == handled


# --- configuration -------------------------------------------------------------------------

def _config(driver_binary: Path, **env: str) -> dict[str, str]:
    d = Driver(driver_binary, {**_clean_env(), **{f"TESTBED_{k}": v for k, v in env.items()}})
    try:
        line = d.ask("config")
    finally:
        d.close()
    fields = dict(part.split("=", 1) for part in line.split(" ", 6))
    return fields


@pytest.mark.parametrize("app", [COAP_APP, XMPP_APP])
def test_config_defaults_are_the_manifests(driver_binary, app):
    defaults = tomllib.loads((app / "manifest.toml").read_text())["defaults"]
    got = _config(driver_binary)
    assert got["rc"] == "0" and got["error"] == "-"
    assert got["readings"] == str(defaults["readings"])
    assert got["seed"] == str(defaults["seed"])
    assert got["interval_ms"] == str(round(defaults["interval_s"] * 1000))
    assert got["sensors"] == ",".join(defaults["sensors"])
    assert got["name"] == "s1"  # coap-sensor's config.get("name", "s1")


def test_config_from_the_environment(driver_binary):
    got = _config(driver_binary, NAME="n7", SEED="-3", READINGS="25", INTERVAL_S="0.25",
                  SENSORS="temperature,humidity")
    assert got == {"rc": "0", "name": "n7", "seed": "-3", "readings": "25",
                   "interval_ms": "250", "sensors": "temperature,humidity", "error": "-"}


@given(st.integers(0, 4_000_000), st.integers(0, 999), st.integers(0, 3))
def test_interval_seconds_to_ms(driver_binary, whole, ms, decimals):
    text = f"{whole}.{ms:03d}"[: len(str(whole)) + 1 + decimals] if decimals else str(whole)
    expected = whole * 1000 + (int(f"{ms:03d}"[:decimals]) * 10 ** (3 - decimals) if decimals else 0)
    if expected == 0:
        return  # 0 is refused (tested below)
    assert _config(driver_binary, INTERVAL_S=text)["interval_ms"] == str(expected)


BOARD_MAIN = r"""
#include <stdio.h>
#include "node-config.h"
int main(void) {
  struct node_config c;
  int rc = node_config_load(&c);
  printf("%d %s %ld %lu %lu %s %d %s\n", rc, c.name, (long)c.seed, (unsigned long)c.readings,
         (unsigned long)c.interval_ms, c.sensors[c.sensor_count - 1],
         node_config_bool("STARTTLS", 1), node_config_string("OBSERVE", "con"));
  return 0;
}
"""


def test_board_config_comes_from_project_conf_macros(tmp_path):
    """Boards (no CONTIKI_TARGET_NATIVE/MEDIUM): TESTBED_<KEY> string macros, not the
    environment; keys without a macro keep the manifest's defaults."""
    main = tmp_path / "main.c"
    main.write_text(BOARD_MAIN)
    binary = tmp_path / "board-config"
    macros = ['-DTESTBED_NAME="b1"', '-DTESTBED_SEED="-7"', '-DTESTBED_INTERVAL_S="2.5"',
              '-DTESTBED_SENSORS="temperature,pressure"', '-DTESTBED_STARTTLS="false"',
              '-DTESTBED_OBSERVE="non"']
    subprocess.run(["gcc", "-std=gnu99", "-Wall", "-Wextra", "-Werror", *macros, "-I", str(COMMON),
                    str(main), str(COMMON / "node-config.c"), "-o", str(binary)], check=True)
    out = subprocess.run([str(binary)], capture_output=True, text=True, check=True,
                         env={**_clean_env(), "TESTBED_NAME": "from-env", "TESTBED_READINGS": "3"})
    assert out.stdout.split() == ["0", "b1", "-7", "10", "2500", "pressure", "0", "non"]


def test_interval_ms_wins_over_seconds(driver_binary):
    assert _config(driver_binary, INTERVAL_MS="40", INTERVAL_S="3")["interval_ms"] == "40"


@pytest.mark.parametrize(("key", "value", "message"), [
    ("READINGS", "ten", "TESTBED_READINGS: expected an integer in 0..1000000, got 'ten'"),
    ("READINGS", "-1", "TESTBED_READINGS: expected an integer in 0..1000000, got '-1'"),
    ("SEED", "1x", "TESTBED_SEED: expected an integer"),
    ("INTERVAL_S", "1,5", "TESTBED_INTERVAL_S: expected seconds (e.g. 1.5), got '1,5'"),
    ("INTERVAL_MS", "0", "TESTBED_INTERVAL_MS: expected a duration above 0"),
    ("SENSORS", ",", "TESTBED_SENSORS: expected comma-separated sensor names"),
])
def test_a_bad_value_is_named_and_the_default_kept(driver_binary, key, value, message):
    got = _config(driver_binary, **{key: value})
    assert got["rc"] == "-1"
    assert got["error"].startswith(message)
    assert got["readings"] == "10" and got["interval_ms"] == "1000" and got["seed"] == "1"
