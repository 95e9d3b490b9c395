"""The border router's advertising proxy for the XMPP server: announces it on the PAN with mDNS
while it answers, withdraws it (goodbye) when it stops.

prosody runs in the cloud, not on the PAN: nothing on the PAN's link would announce it. This
process, on the border router, tries a TCP connect to the server every SERVER_CHECK_S; while
that succeeds it announces `_xmpp-client._tcp` (instance "<domain>", SRV to the server's
port, AAAA of the server's address) with python-zeroconf on the PAN interface, and when it
fails it unregisters the service, which sends the goodbye (TTL 0, RFC 6762 §10.1): sensors
learn both that a server came and that it went. The discovery proxy beside it
(discovery_proxy.py) hands the same records to sensors beyond one hop.

`python -m testbed.services.advertising_proxy CONFIG.json` ({"interface", "server": {"address",
"port", "domain"}}) prints READY after its first check (and announcement), then "SERVER up" /
"SERVER down" as the server comes and goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from testbed.services.process import ServiceProcess, say, stop_on_signals, zeroconf_on

SERVER_CHECK_S = 0.5



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


async def run(config: dict[str, Any]) -> None:
    stop = stop_on_signals()
    azc = zeroconf_on(config["interface"])
    server = config["server"]
    info, up, ready = server_info(server), False, False
    while not stop.is_set():
        now_up = await server_answers(server)
        if now_up and not up:
            await azc.async_register_service(info)  # probed and announced when it returns
            say("SERVER up")
        elif up and not now_up:
            await azc.async_unregister_service(info)
            say("SERVER down")
        up = now_up
        if not ready:  # READY once the server's state is on the air: a sensor starting now
            say("READY")  # finds it at its first query
            ready = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), SERVER_CHECK_S)
    if up:
        await azc.async_unregister_service(info)
    await azc.async_close()


def main(argv: list[str]) -> int:
    asyncio.run(run(json.loads(Path(argv[1]).read_text())))
    return 0


class AdvertisingProxy(ServiceProcess):
    """`with AdvertisingProxy(netns="br", interface="wpan0", server={...}, log=...)`."""

    module, what = "advertising_proxy", "advertising proxy"

    def __init__(self, *, netns: str, interface: str, server: dict[str, Any], log: Path) -> None:
        super().__init__(netns=netns, log=log, config={"interface": interface,
                                                       "server": server})


if __name__ == "__main__":
    sys.exit(main(sys.argv))
