"""The XEP-0174 collector: receives readings over link-local XMPP streams when there is no server.

`python -m testbed.services.link_local_sink CONFIG.json` runs on the border router (or any
node of the PAN) and:
  - announces itself with python-zeroconf as `_presence._tcp` instance "sink@br" (XEP-0174 §3:
    TXT txtvers=1 first, port.p2pj, status), on the PAN interface only;
  - accepts link-local streams on its port (XEP-0174 §4): answers a sensor's stream header
    with its own (from/to swapped) and empty stream features, and records every <message/>
    carrying XEP-0323 <fields/> in deliveries.jsonl exactly as the XMPP sink does, under the
    node named by the stream's `from` (its local part);
  - with `xmpp_server` set, acts as an advertising proxy for that server: while a TCP connect
    to it succeeds it announces `_xmpp-client._tcp` ("<domain>" -> the server's address and
    port) on the PAN, and withdraws it (goodbye, TTL 0) when the server stops answering, so
    sensors learn both that a server came and that it went.
It prints READY once listening and announced, then "SERVER up" / "SERVER down" as the
advertised server comes and goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO, Any

from testbed.backends.processes import dies_with_parent, stop_process
from testbed.errors import TestbedError
from testbed.services.xmpp_sink import FIELDS, write_deliveries

PORT = 5562  # XEP-0174 §4.1 (IANA 'presence')
NS_STREAM = "http://etherx.jabber.org/streams"
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
SERVER_CHECK_S = 0.5


class LinkLocalSinkError(TestbedError):
    """The XEP-0174 collector would not start in time."""


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def stream_header(local: str, remote: str) -> bytes:
    return (f"<?xml version='1.0'?><stream:stream from='{local}' to='{remote}' version='1.0' "
            f"xmlns='jabber:client' xmlns:stream='{NS_STREAM}'>").encode()


async def serve_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                       instance: str, out: IO[str]) -> None:
    """One link-local stream: header, features, then messages until the peer closes."""
    parser = ET.XMLPullParser(events=("start", "end"))
    depth, sender, peer = 0, None, writer.get_extra_info("peername")
    try:
        while data := await reader.read(4096):
            try:
                parser.feed(data)
                events = list(parser.read_events())
            except ET.ParseError as exc:  # RFC 6120 §4.9.3.13: not-well-formed, close
                logging.warning("%s: not-well-formed XML: %s", peer, exc)
                return
            for kind, element in events:
                if kind == "start":
                    depth += 1
                    if depth == 1:
                        remote = element.get("from") or ""
                        sender = remote.split("@")[0] or None
                        writer.write(stream_header(instance, remote)
                                     + b"<stream:features/>")
                        await writer.drain()
                        logging.info("stream from %s (%s)", remote, peer)
                    continue
                depth -= 1
                if depth == 0:  # </stream:stream>
                    writer.write(b"</stream:stream>")
                    await writer.drain()
                    return
                if depth == 1:
                    fields = element.find(FIELDS)
                    if element.tag == "{jabber:client}message" and fields is not None:
                        write_deliveries(out, fields, time.time(), sender=sender,
                                         via="xep-0174")
                    element.clear()
    except (ConnectionError, OSError) as exc:
        logging.info("%s: %s", peer, exc)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


def presence_info(config: dict[str, Any]):
    from zeroconf import ServiceInfo

    instance, port = config["instance"], int(config.get("port", PORT))
    host = config.get("host", instance.split("@")[-1])
    return ServiceInfo(
        "_presence._tcp.local.", f"{instance}._presence._tcp.local.", port=port,
        # XEP-0174 §3.3: txtvers first
        properties={"txtvers": "1", "port.p2pj": str(port), "status": "avail"},
        server=f"{host}.local.", parsed_addresses=list(config["addresses"]))


def server_info(server: dict[str, Any]):
    from zeroconf import ServiceInfo

    return ServiceInfo(
        "_xmpp-client._tcp.local.", f"{server['domain']}._xmpp-client._tcp.local.",
        port=int(server["port"]), properties={}, server=f"{server.get('host', 'xmpp')}.local.",
        parsed_addresses=[server["address"]])


async def server_answers(server: dict[str, Any]) -> bool:
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(server["address"], int(server["port"])), SERVER_CHECK_S * 2)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def advertise_server(zc: Any, server: dict[str, Any], stop: asyncio.Event) -> None:
    """Announce the XMPP server while it answers; goodbye when it stops (advertising proxy)."""
    info, up = server_info(server), False
    while not stop.is_set():
        now_up = await server_answers(server)
        if now_up and not up:
            await zc.async_register_service(info)
            say("SERVER up")
        elif up and not now_up:
            await zc.async_unregister_service(info)
            say("SERVER down")
        up = now_up
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), SERVER_CHECK_S)
    if up:
        await zc.async_unregister_service(info)


async def run(config: dict[str, Any]) -> None:
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncZeroconf

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    out = open(config["deliveries"], "a", buffering=1)  # noqa: SIM115 - lives as long as the run
    server = await asyncio.start_server(
        lambda r, w: serve_stream(r, w, instance=config["instance"], out=out),
        host="::", port=int(config.get("port", PORT)), family=socket.AF_INET6)
    index = socket.if_nametoindex(config["interface"])
    azc = AsyncZeroconf(interfaces=[index], ip_version=IPVersion.V6Only)
    await azc.async_register_service(presence_info(config))
    say("READY")
    tasks = []
    if config.get("xmpp_server"):
        tasks.append(asyncio.create_task(advertise_server(azc, config["xmpp_server"], stop)))
    await stop.wait()
    for task in tasks:
        await task
    server.close()
    await azc.async_unregister_all_services()  # goodbye for sink@br
    await azc.async_close()
    out.close()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = json.loads(Path(argv[1]).read_text())
    asyncio.run(run(config))
    return 0


class LinkLocalSink:
    """`with LinkLocalSink(netns="br", interface="wpan0", addresses=[...], ...) as sink:` runs
    the collector in `netns`; __enter__ waits for READY; __exit__ stops it (SIGTERM, goodbye)."""

    def __init__(self, *, netns: str, interface: str, addresses: list[str], deliveries: Path,
                 log: Path, instance: str = "sink@br", port: int = PORT,
                 xmpp_server: dict[str, Any] | None = None) -> None:
        self.netns = netns
        self.config = {"instance": instance, "interface": interface, "addresses": addresses,
                       "port": port, "deliveries": str(Path(deliveries).resolve()),
                       "xmpp_server": xmpp_server}
        self.deliveries, self.log = Path(deliveries), Path(log)
        self.config_path = self.log.with_name(self.log.stem + ".config.json")
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LinkLocalSink:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(self.config, indent=1))
        self.deliveries.touch()
        argv = ["ip", "netns", "exec", self.netns, sys.executable, "-m",
                "testbed.services.link_local_sink", str(self.config_path)]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(dies_with_parent(argv), stdout=log,
                                            stderr=subprocess.STDOUT,
                                            cwd=Path(__file__).resolve().parents[2])
        try:
            self.wait_for(b"READY", READY_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        return self

    def said(self, word: bytes) -> int:
        """How many lines of the log hold `word` (READY, SERVER up, SERVER down)."""
        return sum(1 for line in self.log.read_bytes().splitlines() if line.strip() == word)

    def wait_for(self, word: bytes, timeout_s: float, count: int = 1) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.said(word) >= count:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.log.read_bytes()[-400:]
        raise LinkLocalSinkError(f"XEP-0174 collector in {self.netns}: no {word.decode()!r} "
                                 f"within {timeout_s} s; last bytes: {tail!r}; log: {self.log}")

    def stop(self) -> None:
        stop_process(self.process, STOP_TIMEOUT_S)

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
