"""Listening sockets that several processes on one host can share (``SO_REUSEPORT``).

With ``LLMFORGE_REUSE_PORT`` each ``llmforge up`` / ``llmforge api`` process binds its own
socket to the same port and the Linux kernel spreads new connections over them: one API
process per core without a balancer in front. Every process must be able to serve every
route (one database, one NATS, a Qdrant server), as replicas behind nginx must.
"""

from __future__ import annotations

import socket


def reuse_port_sockets(host: str, port: int) -> list[socket.socket]:
    """Bound sockets for every address ``host`` names, all on one port.

    Port 0 binds the first address to a free port and the others to that same port.
    Raises ``OSError`` when the platform has no ``SO_REUSEPORT`` or the port is held by a
    process that did not set it.
    """
    if not hasattr(socket, "SO_REUSEPORT"):
        raise OSError("SO_REUSEPORT is not available on this platform")
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    seen: set[tuple[object, ...]] = set()
    try:
        for family, kind, proto, _, address in infos:
            if (family, *address[:2]) in seen:
                continue
            seen.add((family, *address[:2]))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                # "::" would otherwise claim the IPv4 port too and clash with 0.0.0.0.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(sockets) > 1:
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            sock.bind(address)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets
