"""The one place that speaks Rasa's HTTP API."""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import httpx

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
        self._replicas = [httpx.AsyncClient(base_url=url, timeout=timeout_s) for url in base_urls]

    def _replica(self, sender: str) -> httpx.AsyncClient:
        return self._replicas[zlib.crc32(sender.encode()) % len(self._replicas)]

    async def close(self) -> None:
        for client in self._replicas:
            await client.aclose()

    async def send(self, sender: str, text: str, message_id: str) -> RasaTurn:
        """Send one (already masked and normalised) message through the gateway channel."""
        try:
            response = await self._replica(sender).post(
                "/webhooks/gateway/webhook",
                json={"sender": sender, "message": text, "message_id": message_id},
                headers={"Authorization": f"Bearer {self._token}"},
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc
        body = response.json()
        replies = [r for r in map(_reply, body.get("messages", [])) if r is not None]
        return RasaTurn(replies, body.get("intent"), body.get("confidence"), body.get("entities") or [], body.get("actions") or [])

    async def status(self) -> list[dict[str, Any]]:
        """Every replica's /status (needs the token); `model_file` is set once a model is loaded."""
        statuses = []
        for client in self._replicas:
            try:
                response = await client.get("/status", params={"token": self._token}, timeout=3)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                raise RasaUnavailable(f"{client.base_url}: {exc or type(exc).__name__}") from exc
            statuses.append(response.json())
        return statuses
