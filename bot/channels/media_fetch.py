"""Downloading a photo or file a citizen sent, for the volunteer's console: streamed with a size
cap (refused from Content-Length, or as soon as the bytes pass the cap) and never following a
redirect to a host the caller does not trust. Errors never carry the URL (Telegram's holds the
bot token)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from bot.messages import MediaUnavailable

MAX_REDIRECTS = 3
TIMEOUT_S = 30


def host_matches(url: str, domains: list[str]) -> bool:
    """An https URL whose host is one of `domains` or a subdomain of one. Plain http only for a
    listed loopback address (a local test server): nothing real is served there."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if not host or not any(host == domain or host.endswith("." + domain) for domain in domains):
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(host))


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def fetch_capped(url: str, cap: int, allowed: Callable[[str], bool] = lambda _: True) -> tuple[bytes, str]:
    """The bytes and the content type the server gave; each hop of a redirect is checked again."""
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as http:
            for _ in range(MAX_REDIRECTS + 1):
                if not allowed(url):
                    raise MediaUnavailable(f"host {urlsplit(url).hostname!r} is not a trusted media host")
                async with http.stream("GET", url) as response:
                    if response.is_redirect:
                        url = str(response.url.join(response.headers["location"]))
                        continue
                    if response.status_code != 200:
                        raise MediaUnavailable(f"media host answered {response.status_code}")
                    content = await _read_capped(response, cap)
                    return content, response.headers.get("content-type", "application/octet-stream")
    except httpx.HTTPError as exc:
        raise MediaUnavailable(f"media download failed: {type(exc).__name__}") from None
    raise MediaUnavailable(f"more than {MAX_REDIRECTS} redirects")


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise MediaUnavailable(f"media of {declared} bytes, over the {cap}-byte cap")
    content = bytearray()
    async for chunk in response.aiter_bytes():
        content += chunk
        if len(content) > cap:
            raise MediaUnavailable(f"media over the {cap}-byte cap")
    return bytes(content)
