"""Wait until the server has processed what one connection sent so far.

``Client.flush()`` is not that in nats-py 2.16: it writes its PING straight to the socket,
ahead of commands still queued in the client, so a SUB sent just before can reach the
server after the PONG came back. A message to a subject of our own travels the same queue
as the SUB; once it is delivered back, every earlier command has been processed.
"""

from __future__ import annotations

from nats.aio.client import Client as NATS

# Seconds: an echo on a live connection takes well under one; longer means it is broken.
WAIT = 10.0


async def server_caught_up(nc: NATS) -> None:
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, max_msgs=1)
    try:
        await nc.publish(inbox, b"")
        await sub.next_msg(timeout=WAIT)
    finally:
        await sub.unsubscribe()
