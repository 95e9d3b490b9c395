"""The XEP-0174 collector: receives readings over link-local XMPP streams when there is no server.

`python -m testbed.services.link_local_sink CONFIG.json` runs on the border router (or any
node of the PAN) and:
  - announces itself with python-zeroconf as `_presence._tcp` instance "sink@br" (XEP-0174 §3:
    TXT txtvers=1 first, port.p2pj, status), on the PAN interface only;
  - accepts link-local streams on its port (XEP-0174 §4): answers a sensor's stream header
    with its own (from/to swapped) and empty stream features, and records every <message/>
    carrying a reading's payload element in deliveries.jsonl exactly as the XMPP sink does,
    under the node named by the stream's `from` (its local part), with "via": "xep-0174".
It prints READY once listening and announced. The server, when there is one, is announced by
the advertising proxy beside it (advertising_proxy.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import sys
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr
from pathlib import Path
from typing import IO, Any

from testbed.services.process import ServiceProcess, say, stop_on_signals, zeroconf_on
from testbed.services.payload import find_element
from testbed.services.xmpp_sink import write_deliveries

PORT = 5562  # XEP-0174 §4.1 (IANA 'presence')
NS_STREAM = "http://etherx.jabber.org/streams"



def stream_header(local: str, remote: str) -> bytes:
    """Our stream header; `remote` is what the peer said it is: escaped, it cannot break it."""
    return (f"<?xml version='1.0'?><stream:stream from={quoteattr(local)} "
            f"to={quoteattr(remote)} version='1.0' xmlns='jabber:client' "
            f"xmlns:stream='{NS_STREAM}'>").encode()


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
                    payload = find_element(element)
                    if element.tag == "{jabber:client}message" and payload is not None:
                        write_deliveries(out, payload, time.time(), sender=sender,
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


async def run(config: dict[str, Any]) -> None:
    stop = stop_on_signals()
    out = open(config["deliveries"], "a", buffering=1)  # noqa: SIM115 - lives as long as the run
    server = await asyncio.start_server(
        lambda r, w: serve_stream(r, w, instance=config["instance"], out=out),
        host="::", port=int(config.get("port", PORT)), family=socket.AF_INET6)
    azc = zeroconf_on(config["interface"])
    await azc.async_register_service(presence_info(config))
    say("READY")
    await stop.wait()
    server.close()
    await azc.async_unregister_all_services()  # goodbye for sink@br
    await azc.async_close()
    out.close()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = json.loads(Path(argv[1]).read_text())
    asyncio.run(run(config))
    return 0


class LinkLocalSink(ServiceProcess):
    """`with LinkLocalSink(netns="br", interface="wpan0", addresses=[...], ...) as sink:` runs
    the collector in `netns`; __enter__ waits for READY; __exit__ stops it (SIGTERM, goodbye)."""

    module, what = "link_local_sink", "XEP-0174 collector"

    def __init__(self, *, netns: str, interface: str, addresses: list[str], deliveries: Path,
                 log: Path, instance: str = "sink@br", port: int = PORT) -> None:
        super().__init__(netns=netns, log=log, config={
            "instance": instance, "interface": interface, "addresses": addresses,
            "port": port, "deliveries": str(Path(deliveries).resolve())})
        self.deliveries = Path(deliveries)

    def __enter__(self) -> LinkLocalSink:
        self.deliveries.touch()
        super().__enter__()
        return self


if __name__ == "__main__":
    sys.exit(main(sys.argv))
