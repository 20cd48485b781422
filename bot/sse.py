"""Server-sent event streams (the web chat's and the console's) through sse-starlette: events are
dicts (`id`, `event`, `data`, or a `comment`) with lines ending in "\\n". The library ends a stream
when the client goes away or the server shuts down (the page reconnects, to another replica if need
be), and tells proxies not to buffer it."""

from __future__ import annotations

from collections.abc import AsyncIterable

from sse_starlette import EventSourceResponse, ServerSentEvent

SEP = "\n"
CONNECTED = {"comment": "connected"}  # sent first: the client knows the stream is open
KEEP_ALIVE = {"comment": "keep-alive"}  # keeps an idle connection open through proxies; clients ignore it


def event_stream(events: AsyncIterable[dict[str, str]], heartbeat_s: float = 0) -> EventSourceResponse:
    """`heartbeat_s`: a KEEP_ALIVE that often; 0 when the events send their own."""
    return EventSourceResponse(
        events,
        ping=heartbeat_s,
        sep=SEP,
        headers={"Cache-Control": "no-cache"},
        ping_message_factory=lambda: ServerSentEvent(**KEEP_ALIVE, sep=SEP),
    )
