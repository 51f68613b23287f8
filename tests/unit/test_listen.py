"""Sockets that several processes share with SO_REUSEPORT (``LLMFORGE_REUSE_PORT``)."""

from __future__ import annotations

import socket

import pytest

from runtime.listen import reuse_port_sockets


def test_two_binds_share_one_port_and_both_listen() -> None:
    first = reuse_port_sockets("127.0.0.1", 0)
    port = first[0].getsockname()[1]
    second = reuse_port_sockets("127.0.0.1", port)
    try:
        assert [s.getsockname() for s in second] == [("127.0.0.1", port)]
        for sock in (*first, *second):
            sock.listen()
    finally:
        for sock in (*first, *second):
            sock.close()


def test_a_port_held_without_reuse_port_is_refused() -> None:
    holder = socket.create_server(("127.0.0.1", 0))
    try:
        with pytest.raises(OSError):
            reuse_port_sockets("127.0.0.1", holder.getsockname()[1])
    finally:
        holder.close()


def test_every_address_of_a_name_gets_the_same_free_port() -> None:
    sockets = reuse_port_sockets("localhost", 0)
    try:
        assert len({s.getsockname()[1] for s in sockets}) == 1
    finally:
        for sock in sockets:
            sock.close()
