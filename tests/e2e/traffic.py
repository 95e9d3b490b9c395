"""Small traffic programs the end-to-end tests run inside node namespaces.

Each is a fixed Python program given to the interpreter with `-c` and its parameters as argv,
so nothing from a test reaches a shell. They print one JSON line with what they saw.
"""

from __future__ import annotations

import json
import subprocess
import sys

TCP_SINK = r"""
import hashlib, json, socket, sys
port, expected = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("::", port)); srv.listen(1)
print("LISTENING", flush=True)
conn, peer = srv.accept()
h, n = hashlib.sha256(), 0
while n < expected:
    chunk = conn.recv(65536)
    if not chunk:
        break
    h.update(chunk); n += len(chunk)
conn.sendall(b"K")
conn.close()
print(json.dumps({"bytes": n, "sha256": h.hexdigest(), "peer": peer[0]}), flush=True)
"""

TCP_SOURCE = r"""
import hashlib, json, os, socket, sys, time
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = os.urandom(size)
t0 = time.monotonic()
s = socket.create_connection((host, port), timeout=300)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
s.recv(1)
print(json.dumps({"bytes": size, "sha256": hashlib.sha256(data).hexdigest(),
                  "seconds": time.monotonic() - t0}), flush=True)
"""

UDP_ECHO = r"""
import json, socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", port))
print("LISTENING", flush=True)
seen, peers = [], set()
s.settimeout(60)
while len(peers) < count:  # distinct senders: a client's retry is not another client
    data, peer = s.recvfrom(2048)
    seen.append([peer[0], data.decode()])
    peers.add(peer[0])
    s.sendto(b"echo:" + data, peer)
print(json.dumps({"received": seen}), flush=True)
"""

UDP_PING = r"""
import json, random, socket, sys, time
host, port, message = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
# jittered retries: clients behind hidden terminals must not stay in lockstep
s.settimeout(random.uniform(1.0, 3.0))
time.sleep(random.uniform(0.0, 0.5))
for attempt in range(10):
    s.sendto(message, (host, port))
    try:
        data, peer = s.recvfrom(2048)
    except TimeoutError:
        continue
    print(json.dumps({"reply": data.decode(), "attempts": attempt + 1}), flush=True)
    break
else:
    print(json.dumps({"reply": None, "attempts": 10}), flush=True)
"""


def argv(program: str, *args: object) -> list[str]:
    """The argv that runs `program` with `args`, in whatever namespace it is executed."""
    return [sys.executable, "-c", program, *map(str, args)]


def wait_listening(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Block until a server program printed LISTENING (or raise with what it said)."""
    import select

    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    if line.strip() != "LISTENING":
        proc.kill()
        raise AssertionError(f"server did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def tcp_transfer(net, node: str, size: int, *, port: int, timeout: float) -> tuple[dict, dict]:
    """`size` random bytes from `node` to a sink in the cloud over TCP: (sent, received)
    summaries, each with the byte count and the SHA-256 of what it saw."""
    sink = net.popen("cloud", argv(TCP_SINK, port, size), stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(sink)
        source = net.exec(node, argv(TCP_SOURCE, net.cloud_address, port, size),
                          capture_output=True, text=True, timeout=timeout)
        assert source.returncode == 0, source.stderr
        received = last_json(sink.communicate(timeout=30)[0])
    finally:
        sink.kill()
        sink.wait()
    return last_json(source.stdout), received
