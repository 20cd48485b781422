"""Rate limits (issue 12, finding 6): the counters, whom X-Forwarded-For is believed from, the
per-address limits of the gateway, and counters shared by two gateways through a real Redis."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.limits import Limits, RateLimited
from bot.settings import get_settings
from tests import redis_server
from tests.abuse_gateway import FAR_CLIENT, abuse_gateway
from tests.system import require


def limits(**overrides) -> Limits:
    return Limits(get_settings().model_copy(update=overrides))


def scope(peer: str, forwarded: str | None = None) -> dict:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"type": "http", "client": (peer, 40000), "headers": headers}


def test_conversation_limit_counts_per_conversation_and_says_when_to_retry():
    counters = limits(rate_limit_conversation=3)

    async def run() -> int:
        for _ in range(3):
            await counters.conversation("web", "a")
        await counters.conversation("web", "b")  # another conversation has its own count
        await counters.conversation("telegram", "a")  # and so has the same id on another channel
        with pytest.raises(RateLimited) as refused:
            await counters.conversation("web", "a")
        return refused.value.retry_after

    assert 1 <= asyncio.run(run()) <= 60


def test_login_failures_count_per_account_and_address_together():
    counters = limits(login_max_failures=2)

    async def run() -> list:
        for _ in range(2):
            assert await counters.login_allowed("Lan", "198.51.100.1") is None
            await counters.login_failed("lan", "198.51.100.1")
        return [
            await counters.login_allowed("LAN ", "198.51.100.1"),  # same account, any spelling
            await counters.login_allowed("lan", "198.51.100.2"),  # the volunteer elsewhere
            await counters.login_allowed("minh", "198.51.100.1"),
        ]  # another account here

    locked, elsewhere, other_account = asyncio.run(run())
    assert 15 * 60 - 5 <= locked <= 15 * 60
    assert elsewhere is None and other_account is None


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("127.0.0.1", f"{FAR_CLIENT}", FAR_CLIENT),  # a trusted proxy names the client
        ("127.0.0.1", f"1.2.3.4, {FAR_CLIENT}, 127.0.0.1", FAR_CLIENT),  # right-most untrusted hop; 1.2.3.4 is a claim
        ("::1", FAR_CLIENT, FAR_CLIENT),
        ("198.51.100.9", "127.0.0.1", "198.51.100.9"),  # an untrusted peer cannot claim loopback
        ("198.51.100.9", None, "198.51.100.9"),
        ("127.0.0.1", None, "127.0.0.1"),
    ],
)
def test_forwarded_for_is_believed_only_from_a_trusted_proxy(peer, forwarded, client):
    assert limits().client_address(scope(peer, forwarded)) == client


def far(client: httpx.Client, path: str = "/healthz", forwarded: str = FAR_CLIENT, **kwargs) -> httpx.Response:
    method = "POST" if "json" in kwargs else "GET"
    return client.request(method, path, headers={"X-Forwarded-For": forwarded}, **kwargs)


def test_per_address_limit_answers_429_with_retry_after(loaded_db):
    with abuse_gateway(rate_limit_ip=5) as gateway, httpx.Client(base_url=gateway.url) as client:
        assert [far(client).status_code for _ in range(5)] == [200] * 5
        refused = far(client)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "error" in refused.json()
        assert far(client, forwarded="198.51.100.20").status_code == 200  # another address is counted apart
        assert client.get("/healthz").status_code == 200  # loopback itself is exempt


def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(loaded_db):
    # our own loopback peer is not a trusted proxy here: whatever it claims, it is 127.0.0.1
    with (
        abuse_gateway(rate_limit_ip=2, trusted_proxies="192.0.2.1") as gateway,
        httpx.Client(base_url=gateway.url) as client,
    ):
        assert [far(client).status_code for _ in range(6)] == [200] * 6


def test_loopback_clients_are_exempt(loaded_db):
    with abuse_gateway(rate_limit_ip=2) as gateway, httpx.Client(base_url=gateway.url) as client:
        assert [client.get("/healthz").status_code for _ in range(10)] == [200] * 10
        assert [far(client, forwarded="::1").status_code for _ in range(10)] == [200] * 10
        assert [far(client).status_code for _ in range(3)] == [200, 200, 429]  # the limit is live


def test_webhooks_are_exempt(loaded_db):
    # the platforms' servers call from a handful of addresses: their events are never refused for it
    with abuse_gateway(rate_limit_ip=2) as gateway, httpx.Client(base_url=gateway.url) as client:
        statuses = [far(client, "/webhooks/telegram", json={"update_id": n}).status_code for n in range(6)]
        assert 429 not in statuses and len(set(statuses)) == 1, statuses
        # the webhooks used none of the address's allowance, and the limit is live
        assert [far(client).status_code for _ in range(3)] == [200, 200, 429]


def test_new_conversations_are_limited_per_address(loaded_db):
    with abuse_gateway(rate_limit_new_conversations=3) as gateway, httpx.Client(base_url=gateway.url) as client:
        opened = [far(client, "/api/chat/session", json={}).status_code for _ in range(3)]
        assert 429 not in opened, opened
        refused = far(client, "/api/chat/session", json={})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert far(client).status_code == 200  # other requests from the address still pass
        assert far(client, "/api/chat/session", forwarded="198.51.100.30", json={}).status_code != 429


def test_two_gateways_share_their_counters_through_redis(loaded_db):
    require(redis_server.available(), "redis-server")
    with (
        redis_server.redis_server() as url,
        abuse_gateway(rate_limit_ip=4, redis_url=url) as first,
        abuse_gateway(rate_limit_ip=4, redis_url=url) as second,
        httpx.Client(base_url=first.url) as one,
        httpx.Client(base_url=second.url) as other,
    ):
        assert [far(one).status_code, far(other).status_code, far(one).status_code, far(other).status_code] == [200] * 4
        assert far(one).status_code == 429
        assert far(other).status_code == 429
