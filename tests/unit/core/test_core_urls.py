"""hashmatch.urls: which hosts are this machine only."""

from __future__ import annotations

import pytest

from hashmatch.urls import is_loopback


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "10.0.0.1", "::", "example.org", "localhost.example.org", "", "[::1]"]
)
def test_other_hosts(host: str) -> None:
    assert not is_loopback(host)
