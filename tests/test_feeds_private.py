"""A feed the admins add may not make the bot read this machine or its network: the
address is judged when it is added, and again on every connection the fetch makes
(a name may resolve elsewhere by then, a redirect may lead anywhere)."""

from __future__ import annotations

import time

import httpx
import pytest

from bot.config import Config
from bot.ledger import FeedState
from bot.sources.feeds import is_private, private_host, read_feed
from tests.feedserver import FeedHost, feed_of


@pytest.fixture
def host(host: FeedHost) -> FeedHost:
    host.feeds["/f"] = feed_of("本机", [("a", "通知")])
    return host


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # a cloud's metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4 written as IPv6
        "::ffff:10.0.0.1",
        "fe80::1%eth0",
    ],
)
def test_private_addresses_are_private(address: str) -> None:
    assert is_private(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "example.org"])
def test_public_addresses_and_names_are_not(address: str) -> None:
    assert not is_private(address)


@pytest.mark.parametrize("spelled", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_a_private_connection_is_cut_before_anything_is_asked(host: FeedHost, spelled: str) -> None:
    url = host.url("/f").replace("127.0.0.1", spelled)
    with httpx.Client(follow_redirects=True) as client:
        refused = read_feed(url, FeedState(url), Config(), client, time.time(), private_ok=False)
        allowed = read_feed(url, FeedState(url), Config(), client, time.time(), private_ok=True)
    assert refused.state.error and "private address" in refused.state.error
    assert refused.entries == [] and refused.state.failures == 1
    assert allowed.state.error is None and len(allowed.entries) == 1
    assert [status for _, _, status in host.requests] == [200]  # only the allowed one asked


def test_a_file_is_no_feed_an_admin_may_add(tmp_path) -> None:  # noqa: ANN001
    secret = tmp_path / "noticebot.toml"
    secret.write_text("TELEGRAM_BOT_TOKEN = 'x'")
    with httpx.Client() as client:
        read = read_feed(
            str(secret), FeedState(str(secret)), Config(), client, 0.0, private_ok=False
        )
    assert read.state.error == "not an http(s) address" and read.entries == []


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("localhost", True),  # a name that resolves to this machine
        ("127.0.0.1", True),
        ("::1", True),
        ("8.8.8.8", False),
        ("no-such-host.invalid", False),  # not resolved: left to the fetch, which says so
    ],
)
def test_a_host_is_judged_by_what_it_resolves_to(host: str, private: bool) -> None:
    assert private_host(host, 80) is private
