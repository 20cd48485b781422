"""The one place that speaks Rasa's HTTP API (aiohttp: it adds the least latency per call), and
its tracker store's vocabulary (events; their SQL deletion is in `tracker`)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.messages import Button, Outbound
from bot.rasa_client.tracker import delete_tracker_events

__all__ = ["RasaClient", "RasaTurn", "RasaUnavailable", "delete_tracker_events"]
_LISTEN = {"event": "action", "name": "action_listen"}


class RasaUnavailable(Exception):
    """Rasa did not answer, or answered with an error."""


@dataclass(frozen=True)
class RasaTurn:
    replies: list[Outbound]
    intent: str | None = None
    confidence: float | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    handoff: dict[str, Any] | None = None  # an action asked for a volunteer: {"reason", "procedure", "step"}
    about: dict[str, Any] | None = None  # the turn's decision: {"procedure", "aspect", "outcome"}


def _reply(message: dict[str, Any]) -> Outbound | None:
    text = message.get("text") or ""
    buttons = tuple(Button(b["title"], b["payload"]) for b in message.get("buttons") or [] if b.get("payload"))
    return Outbound(text, buttons) if text or buttons else None


def _replies(messages: list[dict[str, Any]]) -> list[Outbound]:
    return [r for r in map(_reply, messages) if r is not None]


def _custom(messages: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """Actions talk to the app with custom messages, never shown to anyone: `{"handoff": {...}}`
    asks for a volunteer, `{"about": {...}}` reports the turn's decision. The last one counts."""
    found = None
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get(key), dict):
            found = custom[key]
    return found


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

    async def send(self, sender: str, text: str, message_id: str, written: str | None = None) -> RasaTurn:
        """Send one (already masked and normalised) message through the gateway channel;
        `written` is the masked text as the citizen wrote it (sentences and question marks kept),
        passed to the actions as metadata."""
        try:
            async with self._http().post(
                f"{self.replica_url(sender)}/webhooks/gateway/webhook",
                json={
                    "sender": sender,
                    "message": text,
                    "message_id": message_id,
                    "metadata": {"text": written} if written else None,
                },
                headers={"Authorization": f"Bearer {self._token}"},
            ) as response:
                response.raise_for_status()
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc
        messages = body.get("messages", [])
        return RasaTurn(
            _replies(messages),
            body.get("intent"),
            body.get("confidence"),
            body.get("entities") or [],
            body.get("actions") or [],
            _custom(messages, "handoff"),
            _custom(messages, "about"),
        )

    async def pause(self, sender: str) -> None:
        """People talk now: Rasa keeps the citizen's messages but runs no action on them."""
        await self._append_events(sender, [{"event": "pause"}])

    async def resume(self, sender: str) -> None:
        """Resume *and* listen, or Rasa would wait for an action instead of the citizen's next message."""
        await self._append_events(sender, [{"event": "resume"}, _LISTEN])

    async def hand_back(self, sender: str, procedure: str | None, step: int | None) -> None:
        """Resumed in a fresh session at the volunteer's chosen step. Without the new session, the next
        message after a long human talk would open one by itself (un-pausing silently and offering to
        resume the guide where it was before the volunteer came)."""
        events = [{"event": "resume"}, {"event": "session_started"}]
        if procedure:
            events.append({"event": "slot", "name": "procedure", "value": procedure})
        if procedure and step:
            events += [
                {"event": "slot", "name": "guide_slug", "value": procedure},
                {"event": "slot", "name": "guide_step", "value": float(step)},
                {"event": "slot", "name": "guide_phase", "value": "paused"},
                {"event": "slot", "name": "guide_stuck", "value": 0.0},
            ]
        await self._append_events(sender, [*events, _LISTEN])

    async def _append_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Append events to a conversation's tracker without running a turn."""
        await self._api("post", f"/conversations/{sender}/tracker/events", sender, events)

    async def trigger_intent(self, sender: str, intent: str) -> list[Outbound]:
        """Run the bot as if the citizen had sent `intent`; returns the bot's replies."""
        body = await self._api("post", f"/conversations/{sender}/trigger_intent", sender, {"name": intent})
        return _replies(body.get("messages", []))

    async def _api(self, method: str, path: str, sender: str, payload: Any) -> dict[str, Any]:
        try:
            async with self._http().request(
                method,
                f"{self.replica_url(sender)}{path}",
                json=payload,
                params={"token": self._token, "include_events": "NONE"},
            ) as response:
                response.raise_for_status()
                return await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc

    async def parse(self, text: str) -> RasaTurn:
        """How Rasa's NLU reads a (masked, normalised) text: intent, confidence and entities. No
        conversation is touched (the editor's preview)."""
        try:
            async with self._http().post(
                f"{self._urls[0]}/model/parse", json={"text": text}, params={"token": self._token}
            ) as response:
                response.raise_for_status()
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc
        intent = body.get("intent") or {}
        return RasaTurn([], intent.get("name"), intent.get("confidence"), body.get("entities") or [])

    async def status(self) -> list[dict[str, Any]]:
        """Every replica's /status (needs the token); `model_file` is set once a model is loaded."""
        statuses = []
        for url in self._urls:
            try:
                async with self._http().get(
                    f"{url}/status", params={"token": self._token}, timeout=aiohttp.ClientTimeout(total=3)
                ) as response:
                    response.raise_for_status()
                    statuses.append(await response.json())
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise RasaUnavailable(f"{url}: {exc or type(exc).__name__}") from exc
        return statuses
