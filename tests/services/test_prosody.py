"""Prosody from a generated config: the config itself, clear errors, and a real server in the cloud.

The live tests bring up the two-node network (br - n1) and run prosody in its cloud namespace;
the accounts are checked by logging in with the sensor firmware's own client (nodes/xmpp-sensor).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.config.topology import parse_topology
from testbed.services.prosody import Prosody, ProsodyError, lua_string, render_config, store_name
from tests.topologies import PAIR

SENSOR_DIR = Path(__file__).resolve().parents[2] / "nodes" / "xmpp-sensor"
LUA = shutil.which("lua5.4") or shutil.which("lua")

# Logs in with the firmware's client; prints "OK <jid> <tls>" or "FAIL <why>". Config on stdin
# (it holds a password: never on argv, where `ps` shows it).
LOGIN = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from client import Session, StreamError
session = Session(json.loads(sys.stdin.read()), lambda stanza: None)
try:
    session.open()
except StreamError as exc:
    print("FAIL", exc)
else:
    print("OK", session.jid, session.tls)
    session.close()
"""


def login(
    net: Any, *, user: str, password: str, starttls: bool = False, sasl: str = "PLAIN"
) -> str:
    config = {
        "server": str(net.cloud_address),
        "port": 5222,
        "domain": "iot.testbed",
        "user": user,
        "password": password,
        "resource": "probe",
        "starttls": starttls,
        "sasl": sasl,
    }
    proc = net.exec(
        "n1",
        [sys.executable, "-c", LOGIN, str(SENSOR_DIR)],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


# the generated config ----------------------------------------------------------------------


def test_config_listens_on_the_cloud_address_only(tmp_path: Path) -> None:
    text = render_config(
        directory=tmp_path,
        address="fd01::1",
        domain="iot.testbed",
        tls=False,
        cert=None,
        key=None,
        pubsub_admins=("sink",),
    )
    assert 'c2s_interfaces = { "fd01::1" }' in text and "c2s_ports = { 5222 }" in text
    assert (
        "c2s_require_encryption = false" in text
        and 'modules_disabled = { "s2s", "offline" }' in text
    )
    assert (
        'Component "pubsub.iot.testbed" "pubsub"' in text
        and 'admins = { "sink@iot.testbed" }' in text
    )
    assert "run_as_root = true" in text and "daemonize = false" in text


@pytest.mark.skipif(LUA is None, reason="needs the lua interpreter (Debian package lua5.4)")
def test_config_is_valid_lua(tmp_path: Path) -> None:
    text = render_config(
        directory=tmp_path / 'we"ird\\dir',
        address="fd01::1",
        domain="iot.testbed",
        tls=True,
        cert=tmp_path / "c.crt",
        key=tmp_path / "c.key",
    )
    assert "c2s_require_encryption = true" in text
    # prosody's config statements (VirtualHost "x", Component "y" "z") are Lua calls: define them
    program = "function VirtualHost(h) end function Component(h) return function() end end\n" + text
    proc = subprocess.run([LUA, "-"], input=program, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(LUA is None, reason="needs the lua interpreter (Debian package lua5.4)")
@settings(max_examples=40, deadline=None)
@given(st.text(max_size=40))
def test_lua_string_round_trips_through_lua(text: str) -> None:
    program = f"io.write({lua_string(text)})"
    proc = subprocess.run([LUA, "-e", program], capture_output=True, check=False)
    assert proc.stdout == text.encode()


def test_store_names_are_prosody_encoded() -> None:
    assert store_name("iot.testbed") == "iot%2etestbed"
    assert store_name("s1") == "s1"


def test_missing_binary_says_what_to_install(tmp_path: Path) -> None:
    server = Prosody(
        netns="tb-nonexistent-cloud",
        address="fd01::1",
        accounts={},
        directory=tmp_path,
        binary="prosody-not-installed",
    )
    with pytest.raises(ProsodyError, match="install the Debian package prosody"):
        server.__enter__()


def test_bad_domain_and_account_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ProsodyError, match="not a DNS name"):
        Prosody(netns="x", address="fd01::1", domain="bad domain", accounts={}, directory=tmp_path)
    server = Prosody(netns="x", address="fd01::1", accounts={"Bad User": "pw"}, directory=tmp_path)
    with pytest.raises(ProsodyError, match="localpart"):
        server.__enter__()


# a live server ------------------------------------------------------------------------------

pair = parse_topology(PAIR, "pair.yaml")


def cloud_prosody(net: Any, tmp_path: Path, **options: Any) -> Prosody:
    """Prosody in the cloud namespace on the cloud address, its files under tmp_path/p."""
    return Prosody(netns=net.netns("cloud"), address=net.cloud_address,
                   directory=tmp_path / "p", **options)


@pytest.mark.slow
def test_accounts_work_in_the_cloud(network: Any, tmp_path: Path) -> None:
    with (
        network(pair) as net,
        cloud_prosody(net, tmp_path, accounts={"n1": "right"}) as server,
    ):
        assert login(net, user="n1", password="right") == "OK n1@iot.testbed/probe False"
        assert (
            login(net, user="n1", password="right", sasl="SCRAM-SHA-1")
            == "OK n1@iot.testbed/probe False"
        )
        assert login(net, user="n1", password="wrong").startswith(
            "FAIL SASL PLAIN failed: not-authorized"
        )
        assert login(net, user="n2", password="right").startswith("FAIL SASL PLAIN failed")
    assert server.process is not None and server.process.returncode is not None  # stopped
    log = (tmp_path / "p" / "prosody.log").read_text()
    assert "Authenticated as n1@iot.testbed" in log and "right" not in log


@pytest.mark.slow
def test_tls_variant_offers_and_requires_starttls(network: Any, tmp_path: Path) -> None:
    with (
        network(pair) as net,
        cloud_prosody(net, tmp_path, accounts={"n1": "pw"}, tls=True) as server,
    ):
        assert server.certificate is not None and server.certificate.exists()
        assert (
            login(net, user="n1", password="pw")
            == "FAIL the server requires STARTTLS (set starttls: true)"
        )
        assert login(net, user="n1", password="pw", starttls=True) == "OK n1@iot.testbed/probe True"


@pytest.mark.slow
def test_a_server_that_cannot_listen_names_its_log(network: Any, tmp_path: Path) -> None:
    with network(pair) as net:
        server = Prosody(
            netns=net.netns("cloud"),
            address="fd99::1",
            accounts={},
            directory=tmp_path / "p",
            ready_timeout_s=3.0,
        )  # fd99::1 is no address of the cloud
        with pytest.raises(ProsodyError, match=r"prosody.*full log: .*prosody\.log"):
            with server:
                pass
        assert server.process is not None and server.process.poll() is not None  # not left running
