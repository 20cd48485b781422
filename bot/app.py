"""The gateway: wiring only."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from bot.channels.disabled import disabled_webhook
from bot.channels.web import STATIC, WebChannel
from bot.events import EventBus
from bot.health import health_routes
from bot.privacy import purge_expired
from bot.rasa_client import RasaClient
from bot.router import Router
from bot.settings import get_settings


def create_app() -> FastAPI:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    rasa = RasaClient(settings.rasa_urls, settings.ensure_rasa_token(), settings.rasa_timeout_s)
    bus = EventBus()
    router = Router(rasa, bus)
    web = WebChannel(router, bus, settings.max_message_chars)

    async def purge_every_hour() -> None:
        while True:
            messages, events = await asyncio.to_thread(purge_expired)
            if messages or events:
                logging.getLogger(__name__).info("retention: deleted %d messages, %d Rasa events", messages, events)
            await asyncio.sleep(3600)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        purge = asyncio.create_task(purge_every_hour())
        yield
        purge.cancel()
        with suppress(asyncio.CancelledError):
            await purge
        await rasa.close()

    app = FastAPI(title="Trợ lý thủ tục hành chính", lifespan=lifespan)
    app.state.router = router
    app.include_router(web.routes)
    app.include_router(health_routes(rasa, settings.actions_url))
    for channel in ("telegram", "zalo"):
        app.include_router(disabled_webhook(channel))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
