"""The gateway: wiring only."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from bot import logs
from bot.admin.api import STATIC as ADMIN_STATIC
from bot.admin.api import admin_routes
from bot.admin.context import AdminContext
from bot.admin.transfer import MAX_UPLOAD_BYTES
from bot.admin.transfer_api import IMPORT_PATH
from bot.announcer import CitizenAnnouncer
from bot.channels.disabled import disabled_webhook
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_volunteers import VolunteerTelegram
from bot.channels.web import CHANNEL as WEB
from bot.channels.web import SELF_PARSED, STATIC, WebChannel
from bot.channels.webhook_body import MAX_WEBHOOK_BODY, WEBHOOK_PATHS
from bot.channels.zalo import ZaloChannel, answer_window
from bot.console.api import STATIC as CONSOLE_STATIC
from bot.console.api import Console
from bot.console.auth import PasswordChangeRequired
from bot.console.stream import ConsoleStream
from bot.delivery.ordering import ConversationLocks
from bot.delivery.outbox import Outbox
from bot.events import EventBus
from bot.fanout import RedisFanout
from bot.handoff.metrics import HandoffMetrics
from bot.handoff.service import Handoffs
from bot.health import health_routes
from bot.http_guard import AddressLimits, BodyCap, JsonGuard, SecurityHeaders
from bot.limits import Limits
from bot.privacy import purge_expired
from bot.rasa_client import RasaClient
from bot.router import Router
from bot.settings import Settings, get_settings
from bot.storage.db import DATABASE_DOWN

log = logging.getLogger(__name__)
LOCK_MARGIN_S = 30  # a conversation's lock outlives the longest Rasa call by this much


async def database_down(_: Request, exc: Exception) -> JSONResponse:
    """A database restart is a moment to wait, not a server error: the client tries again (a web
    message with the same `message_id` is answered once)."""
    log.warning("database unavailable: %s", type(exc).__name__)
    return JSONResponse(
        {"error": "the database is not reachable for a moment: try again"},
        status_code=503,
        headers={"Retry-After": "2"},
    )


def body_caps(settings: Settings) -> dict[str, int]:
    """Routes whose bodies may be larger than MAX_BODY_BYTES, and how large."""
    return {
        "/api/chat": settings.max_message_chars * 4 + 1024,  # UTF-8 takes at most 4 bytes a character
        **{path: MAX_WEBHOOK_BODY for path in WEBHOOK_PATHS},
        IMPORT_PATH: MAX_UPLOAD_BYTES,
    }  # staff's knowledge files (spreadsheets, YAML zips)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logs.configure(settings, "gateway")
    limits = Limits(settings)
    rasa = RasaClient(settings.rasa_urls, settings.ensure_rasa_token(), settings.rasa_timeout_s)
    bus = EventBus()
    handoffs = Handoffs(bus, settings)
    outbox = Outbox(bus)
    locks = ConversationLocks(settings.redis_url, hold_s=settings.rasa_timeout_s + LOCK_MARGIN_S)
    router = Router(rasa, bus, handoffs, limits, outbox, locks)
    web = WebChannel(router, outbox, bus, settings)
    CitizenAnnouncer(outbox, rasa, bus, settings)
    metrics = HandoffMetrics(bus)
    volunteer_telegram = VolunteerTelegram(settings, handoffs, bus) if settings.volunteer_telegram_token else None
    # A webhook channel hands each message to the router, which also sends the replies through it.
    telegram = TelegramChannel(settings, router.handle) if settings.telegram_token else None
    zalo = ZaloChannel(settings, router.handle) if settings.zalo_app_id and settings.zalo_oa_secret else None
    pushing = {name: channel for name, channel in (("telegram", telegram), ("zalo", zalo)) if channel}
    for name, channel in pushing.items():
        outbox.register(name, channel.send)
    console = Console(
        outbox,
        handoffs,
        ConsoleStream(bus),
        settings,
        {name: channel.fetch_media for name, channel in pushing.items()},
        {"zalo": answer_window},
    )
    fanout = RedisFanout(settings.redis_url, bus) if settings.redis_url else None
    services = [s for s in (fanout, volunteer_telegram, telegram, zalo) if s is not None]  # started with the app

    async def every(seconds: float, job) -> None:
        while True:
            try:
                await job()
            except Exception:  # a failed round must not end the loop
                log.exception("periodic job %s failed", job.__name__)
            await asyncio.sleep(seconds)

    async def purge() -> None:
        messages, events = await asyncio.to_thread(purge_expired)
        if messages or events:
            log.info("retention: deleted %d messages, %d Rasa events", messages, events)

    async def answer_deferred() -> None:
        """What waited for Rasa, once it is back: on the web and the channels this gateway sends on."""
        await router.answer_deferred({WEB, *pushing})

    async def expire_claims() -> None:
        for handoff_id in await handoffs.expire_stale_claims():
            log.info("handoff %d: claim expired, back in the queue", handoff_id)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        for service in services:
            await service.start()
        jobs = [
            asyncio.create_task(every(3600, purge)),
            asyncio.create_task(every(30, expire_claims)),
            asyncio.create_task(every(2, answer_deferred)),
        ]
        if zalo:
            jobs.append(asyncio.create_task(every(600, zalo.keep_tokens_fresh)))
        if volunteer_telegram:  # notices of data deleted or past retention lose their quotes
            jobs.append(asyncio.create_task(every(300, volunteer_telegram.neutralise_pending)))
        if pushing:
            jobs.append(asyncio.create_task(every(60, outbox.resend_pending)))
        yield
        for job in jobs:
            job.cancel()
            with suppress(asyncio.CancelledError):
                await job
        for service in reversed(services):
            await service.stop()
        await rasa.close()
        await locks.close()

    docs = settings.api_docs
    app = FastAPI(
        title="Trợ lý thủ tục hành chính",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.router = router
    app.state.handoffs = handoffs
    app.state.telegram = telegram
    app.state.zalo = zalo
    app.state.limits = limits
    app.state.outbox = outbox

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    for unreachable in DATABASE_DOWN:
        app.add_exception_handler(unreachable, database_down)

    @app.exception_handler(PasswordChangeRequired)
    async def password_change_required(_: Request, exc: PasswordChangeRequired) -> JSONResponse:
        return JSONResponse({"error": exc.detail, "must_change_password": True}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": problems}, status_code=422)

    app.include_router(web.routes)
    app.include_router(console.routes)
    app.include_router(admin_routes(AdminContext(bus, rasa, settings)))
    app.include_router(health_routes(rasa, metrics, settings))
    app.include_router(telegram.routes if telegram else disabled_webhook("telegram"))
    app.include_router(zalo.routes if zalo else disabled_webhook("zalo"))
    app.include_router(volunteer_telegram.routes if volunteer_telegram else disabled_webhook("telegram-volunteers"))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/console/static", StaticFiles(directory=CONSOLE_STATIC), name="console-static")
    app.mount("/admin/static", StaticFiles(directory=ADMIN_STATIC), name="admin-static")
    # outermost last: headers on every answer, then per-address limits, then body size, then JSON
    app.add_middleware(JsonGuard, self_parsed=(*SELF_PARSED, *WEBHOOK_PATHS))
    app.add_middleware(BodyCap, default_cap=settings.max_body_bytes, caps=body_caps(settings))
    app.add_middleware(AddressLimits, limits=limits)
    app.add_middleware(SecurityHeaders)
    return app
