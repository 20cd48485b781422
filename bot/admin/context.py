"""What the admin routes are given at wiring time (bot/app.py)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.events import EventBus
from bot.rasa_client import RasaClient
from bot.settings import Settings


@dataclass(frozen=True)
class AdminContext:
    bus: EventBus
    rasa: RasaClient
    settings: Settings
