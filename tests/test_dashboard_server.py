"""Serving the dashboard (abm/dashboard_server.py): what it tells the room."""

from __future__ import annotations

import socket

import pytest

from abm import dashboard_server


class _Probe:
    """A UDP socket whose route out leaves from ``address`` (or that has no route)."""

    def __init__(self, address: str | None):
        self.address = address

    def __call__(self, *args):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def connect(self, target):
        if self.address is None:
            raise OSError("Network is unreachable")

    def getsockname(self):
        return (self.address, 40000)


@pytest.mark.parametrize(("route", "shown"), [("192.168.1.23", "192.168.1.23"), ("127.0.0.1", None), (None, None)])
def test_the_room_is_told_the_machine_s_network_address(monkeypatch, route, shown):
    monkeypatch.setattr(socket, "socket", _Probe(route))
    assert dashboard_server.room_address() == shown


def test_loopback_names_are_told_apart():
    assert dashboard_server.is_loopback("127.0.0.1")
    assert dashboard_server.is_loopback("localhost")
    assert not dashboard_server.is_loopback("0.0.0.0")
