"""The suite-wide socket guard works (so "no command opened a socket" means something)."""

from __future__ import annotations

import socket

import pytest

from conftest import SocketBlocked


def test_network_sockets_are_blocked_in_tests():
    with pytest.raises(SocketBlocked):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(SocketBlocked):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
    with pytest.raises(SocketBlocked):
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)


def test_unix_sockets_stay_allowed():
    a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    a.close()


@pytest.mark.loopback_server
def test_marked_tests_may_open_sockets():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.close()
