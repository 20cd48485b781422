"""A listener of handoff changes that counts them (exposed at `/metrics` in the Prometheus text
format, per process) and logs one JSON line for each, without any message text."""

from __future__ import annotations

import json
import logging
from collections import Counter

from bot.events import EventBus, HandoffChanged

log = logging.getLogger("bot.handoff")


class HandoffMetrics:
    def __init__(self, bus: EventBus):
        self.transitions: Counter[tuple[str, str, str]] = Counter()
        bus.subscribe(HandoffChanged, self.on_change)

    async def on_change(self, event: HandoffChanged) -> None:
        self.transitions[(event.kind, event.reason, event.channel)] += 1
        log.info(
            json.dumps(
                {
                    "event": "handoff",
                    "kind": event.kind,
                    "handoff": event.handoff_id,
                    "conversation": event.conversation_id,
                    "reason": event.reason,
                    "channel": event.channel,
                }
            )
        )

    def exposition(self) -> str:
        lines = [
            "# HELP handoff_transitions_total Handoff state changes since the process started.",
            "# TYPE handoff_transitions_total counter",
        ]
        lines += [
            f'handoff_transitions_total{{kind="{kind}",reason="{reason}",channel="{channel}"}} {count}'
            for (kind, reason, channel), count in sorted(self.transitions.items())
        ]
        return "\n".join(lines) + "\n"
