"""The one place that speaks Rasa's HTTP API (aiohttp: it adds the least latency per call)."""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.messages import Button, Outbound


class RasaUnavailable(Exception):
    """Rasa did not answer, or answered with an error."""


@dataclass(frozen=True)
class RasaTurn:
    replies: list[Outbound]
    intent: str | None = None
    confidence: float | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)


def _reply(message: dict[str, Any]) -> Outbound | None:
    text = message.get("text") or ""
    buttons = tuple(Button(b["title"], b["payload"]) for b in message.get("buttons") or [] if b.get("payload"))
    return Outbound(text, buttons) if text or buttons else None


class RasaClient:
    """Talks to one or more Rasa replicas; a conversation always goes to the same replica."""

    def __init__(self, base_urls: list[str], token: str, timeout_s: float = 30.0):
        self._token = token
        self._urls = base_urls
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:  # created inside the running event loop
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    def replica_url(self, sender: str) -> str:
        return self._urls[zlib.crc32(sender.encode()) % len(self._urls)]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, sender: str, text: str, message_id: str) -> RasaTurn:
        """Send one (already masked and normalised) message through the gateway channel."""
        try:
            async with self._http().post(
                f"{self.replica_url(sender)}/webhooks/gateway/webhook",
                json={"sender": sender, "message": text, "message_id": message_id},
                headers={"Authorization": f"Bearer {self._token}"},
            ) as response:
                response.raise_for_status()
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc
        replies = [r for r in map(_reply, body.get("messages", [])) if r is not None]
        return RasaTurn(replies, body.get("intent"), body.get("confidence"), body.get("entities") or [], body.get("actions") or [])

    async def status(self) -> list[dict[str, Any]]:
        """Every replica's /status (needs the token); `model_file` is set once a model is loaded."""
        statuses = []
        for url in self._urls:
            try:
                async with self._http().get(f"{url}/status", params={"token": self._token},
                                            timeout=aiohttp.ClientTimeout(total=3)) as response:
                    response.raise_for_status()
                    statuses.append(await response.json())
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise RasaUnavailable(f"{url}: {exc or type(exc).__name__}") from exc
        return statuses
