"""Abuse limits (issue 12): moving-window counters from the `limits` library, in memory or, when
REDIS_URL is set, in Redis so every gateway replica counts together.

- `conversation(channel, user_id)`: RATE_LIMIT_CONVERSATION messages a minute in one conversation,
  for everyone (loopback included). The router calls it once per inbound citizen message, before
  storing it or asking Rasa:

      await self.limits.conversation(inbound.channel, inbound.user_id)  # raises RateLimited

  The web channel answers `RateLimited` with 429 and `Retry-After: exc.retry_after`; Telegram and
  Zalo send the citizen one polite reply instead (never a 429 to the platform).
- `login_allowed(account, address)` / `login_failed(account, address)`: LOGIN_MAX_FAILURES failed
  logins per account *and* address together in 15 minutes, so nobody locks a volunteer out from
  elsewhere. A success resets nothing.
- `request(address)` / `new_conversation(address)`: RATE_LIMIT_IP requests and
  RATE_LIMIT_NEW_CONVERSATIONS web conversations a minute per client address, for the middleware in
  `bot/http_guard.py` (which exempts webhooks and loopback clients).
- `client_address(scope)`: the client's address; `X-Forwarded-For` counts only when the TCP peer is
  one of TRUSTED_PROXIES (the uvicorn serving the app must not rewrite the peer itself:
  `--no-proxy-headers`).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Iterable

from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from bot.settings import Settings

LOGIN_WINDOW = "15 minutes"


class RateLimited(Exception):
    """Over a limit: try again in `retry_after` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"rate limited, retry after {retry_after} s")
        self.retry_after = retry_after


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(value, strict=False)


def _within(address: str, networks: Iterable) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class Limits:
    def __init__(self, settings: Settings):
        # redis-py (already a dependency) instead of the library's default client, coredis
        storage = (
            storage_from_string(f"async+{settings.redis_url}", implementation="redispy")
            if settings.redis_url
            else storage_from_string("async+memory://")
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_conversation = RateLimitItemPerMinute(settings.rate_limit_conversation, namespace="conversation")
        self._refusal_notice = RateLimitItemPerMinute(1, namespace="conversation-refused")
        self._per_address = RateLimitItemPerMinute(settings.rate_limit_ip, namespace="address")
        self._new_conversations = RateLimitItemPerMinute(
            settings.rate_limit_new_conversations, namespace="new-conversation"
        )
        self._login_failures: RateLimitItem = parse(f"{settings.login_max_failures} per {LOGIN_WINDOW}")
        self._trusted = [_network(p) for p in settings.trusted_proxy_list]

    async def _hit(self, item: RateLimitItem, *key: str) -> None:
        if not await self._limiter.hit(item, *key):
            raise RateLimited(await self._retry_after(item, *key))

    async def _retry_after(self, item: RateLimitItem, *key: str) -> int:
        stats = await self._limiter.get_window_stats(item, *key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def conversation(self, channel: str, user_id: str) -> None:
        await self._hit(self._per_conversation, channel, user_id)

    async def first_refusal(self, channel: str, user_id: str) -> bool:
        """Whether this is the first refusal of the conversation's current window: a citizen on a
        channel that cannot answer 429 is told once, not for every message."""
        return await self._limiter.hit(self._refusal_notice, channel, user_id)

    async def request(self, address: str) -> None:
        await self._hit(self._per_address, address)

    async def new_conversation(self, address: str) -> None:
        await self._hit(self._new_conversations, address)

    async def login_allowed(self, account: str, address: str) -> int | None:
        """None when this account may try to log in from this address, else seconds to wait."""
        key = (account.strip().lower(), address)
        if await self._limiter.test(self._login_failures, *key):
            return None
        return await self._retry_after(self._login_failures, *key)

    async def login_failed(self, account: str, address: str) -> None:
        await self._limiter.hit(self._login_failures, account.strip().lower(), address)

    def client_address(self, scope: dict) -> str:
        """The peer, or, when the peer is a trusted proxy, the right-most `X-Forwarded-For` entry
        that is not itself a trusted proxy (entries further left are the client's own claims)."""
        peer = scope["client"][0] if scope.get("client") else ""
        if not _within(peer, self._trusted):
            return peer
        forwarded = [value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"]
        hops = [hop.strip() for hop in ",".join(forwarded).split(",") if hop.strip()]
        for hop in reversed(hops):
            if not _within(hop, self._trusted):
                return hop
        return hops[0] if hops else peer
