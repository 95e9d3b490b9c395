"""The sensor process against a server that is not there, or that hangs up: it retries with
the seeded backoff and does not exit until it is stopped (real sockets, the real main.py)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(APP))

from backoff import Backoff


def run_sensor(tmp_path: Path, port: int, seconds: float) -> tuple[int, list[dict]]:
    return run_sensor_with(tmp_path, port, seconds)


def run_sensor_with(tmp_path: Path, port: int, seconds: float, **settings: object
                    ) -> tuple[int, list[dict]]:
    config = {"name": "n1", "server": "127.0.0.1", "port": port, "user": "n1",
              "password": "not-logged", "readings": 3, "interval_s": 0.2, "seed": 7,
              "backoff_base_s": 0.1, "backoff_cap_s": 0.4, "server_timeout_s": 0.5,
              **settings}
    path = tmp_path / "CONFIG.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen([sys.executable, str(APP / "main.py"), str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=APP)
    try:
        time.sleep(seconds)
        alive = proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert alive, err.decode()
    assert b"not-logged" not in out + err  # the password never reaches a log
    return proc.returncode, [json.loads(line) for line in out.splitlines()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_connects_are_retried_on_the_seeded_schedule(tmp_path: Path) -> None:
    code, events = run_sensor(tmp_path, free_port(), 2.5)
    reconnects = [e for e in events if e["event"] == "reconnect"]
    assert code == 0 and events[-1]["event"] == "stopped"
    assert len(reconnects) >= 4
    assert "connect to [127.0.0.1]" in reconnects[0]["why"]
    expected = Backoff("n1", 7, 0.1, 2.0, 0.4)
    for k, event in enumerate(reconnects, start=1):
        assert event["attempt"] == k
        assert event["delay_s"] == round(expected.next_delay(), 3)


def test_a_silent_server_is_a_timeout_and_a_hang_up_a_drop(tmp_path: Path) -> None:
    """The listener accepts and says nothing (a timeout), then accepts and closes (a drop)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if not held:
                held.append(conn)  # the first one: silence
            else:
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        code, events = run_sensor(tmp_path, listener.getsockname()[1], 2.5)
    finally:
        listener.close()
        for conn in held:
            conn.close()
    whys = [e["why"] for e in events if e["event"] == "reconnect"]
    assert code == 0 and whys[0] == "no answer from the server within 0.5 s"
    assert any("closed by the server" in why or "recv failed" in why for why in whys[1:]), whys


def test_a_slow_tls_handshake_gets_the_server_timeout(tmp_path: Path) -> None:
    """Set-up reads return every IDLE_S (0.25 s) to keep the reading clock going; the TLS
    handshake after <proceed/> must still get server_timeout_s, not the last read's 0.25 s."""
    import ssl

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-subj", "/CN=iot.testbed", "-days", "1"],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    handshakes: list[str] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(4096)  # the stream header
                    conn.sendall(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                                 b"xmlns:stream='http://etherx.jabber.org/streams' id='1' "
                                 b"from='iot.testbed' version='1.0'><stream:features>"
                                 b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                                 b"<required/></starttls></stream:features>")
                    conn.recv(4096)  # <starttls/>
                    conn.sendall(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
                    time.sleep(0.8)  # a congested path: the handshake starts late
                    with context.wrap_socket(conn, server_side=True) as tls:
                        handshakes.append(tls.version() or "?")
                        tls.recv(4096)  # the restarted stream; then hang up
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    config = tmp_path / "tls"
    config.mkdir()
    try:
        code, events = run_sensor_with(config, listener.getsockname()[1], 2.5,
                                       starttls=True, server_timeout_s=3.0)
    finally:
        listener.close()
    whys = [e["why"] for e in events if e["event"] == "reconnect"]
    assert code == 0 and handshakes, whys
    assert not any("handshake" in why for why in whys), whys
