"""Simulated citizens on the web chat, Telegram and Zalo, and the check that each of them got every
reply exactly once, in order: the load machinery of benchmarks/load.py and tests/faults/.

Citizens reach a deployment only through its public URL (nginx): web citizens through
`/api/chat` and the page's event stream, Telegram and Zalo citizens through the webhooks, whose
replies the bot sends to the local servers implementing Telegram's and Zalo's contracts
(tests/fakes). Each conversation asks a few questions of the dev question set, one at a time,
waiting for the answer before the next. A request that fails (no answer, 5xx) is sent again as
it was: same `message_id` on the web, same update or event on Telegram and Zalo.

The check compares what each citizen received with what the deployment stored for them
(the database is the reference): every stored reply arrived, in the stored order, none twice
(repeats are counted), nothing arrived that was never stored, and every question was stored once.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import itertools
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import aiohttp
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.messages import split_text
from bot.settings import Settings, get_settings
from bot.storage import crypto
from bot.storage.db import make_engine
from bot.storage.models import Citizen, Conversation, Message, Turn, ZaloToken, utcnow
from bot.text.masking import mask
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.zalo_api import MAX_TEXT as ZALO_MAX_TEXT
from tests.fakes.zalo_api import FakeZaloAPI
from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "data" / "answers_dev.tsv"
CHANNELS = ("web", "telegram", "zalo")
TELEGRAM_SECRET = "load-hook-secret_1"
TELEGRAM_WEBHOOK = "https://hotro.example.vn/webhooks/telegram"  # registered with the contract server only
ZALO_OA_SECRET = "load-oa-secret"
ZALO_OA_ID = "388613280878808645"
TELEGRAM_MAX_TEXT = 4096
ZALO_MAX_BUTTONS, ZALO_MORE_CHOICES = 5, "Lựa chọn khác:"  # further buttons come in a short message of their own
REQUEST_TIMEOUT_S = 60  # one HTTP request
GIVE_UP_S = 180  # a citizen stops retrying, or waiting for an answer, after this long
RETRY_PAUSE_S = 0.5
ACK_ATTEMPTS = 5
HELD_CHECK_S = 5  # a citizen still waiting for an answer looks whether a volunteer is awaited this often
MAILROOM_PERIOD_S = 0.02  # how often the contract servers' recorded messages are read
ZALO_TOKEN_LIFETIME = dt.timedelta(days=1)
HANDLED = "processed"  # an inbound message's status once the deployment dealt with it
UNLIMITED = 1_000_000  # simulated citizens share one address and write faster than the abuse limits allow


@lru_cache
def engine_for(database_url: str) -> Engine:
    """The deployment's database, as this process reads it (the app's own engine is the test session's)."""
    return make_engine(database_url)


def deployment_settings(var_dir: Path, gateways: int, **overrides) -> Settings:
    """A deployment (bot.city.City) in its own var/ folder on free ports, abuse limits out of the way,
    encrypting with this process's data key so that the checks here can read what it stored."""
    reader = get_settings()
    return Settings(
        var_dir=var_dir,
        data_key=",".join(crypto.configured_keys(reader.data_key.get_secret_value(), reader.var_dir)),
        gateway_port=free_port(consecutive=gateways + 1),
        rasa_port=free_port(consecutive=8),
        actions_port=free_port(),
        city_postgres_port=free_port(),
        city_redis_port=free_port(),
        rate_limit_conversation=UNLIMITED,
        rate_limit_ip=UNLIMITED,
        rate_limit_new_conversations=UNLIMITED,
        **overrides,
    )


def load_questions(path: Path = QUESTIONS) -> list[str]:
    """The Vietnamese questions of the dev answer set (the English rows are left out)."""
    with path.open(encoding="utf-8") as file:
        return [row["question"] for row in csv.DictReader(file, delimiter="\t") if row["register"] != "english"]


def squeeze(text: str) -> str:
    """Text compared the way a person reads it: channels trim and re-flow white space."""
    return " ".join(text.split())


# -- What one citizen saw ----------------------------------------------------------------------------------------


@dataclass
class Received:
    text: str
    at: float  # time.monotonic()


@dataclass
class Exchange:
    """One question: sent (perhaps several times) until the deployment took it, then answered."""

    channel: str
    text: str
    started: float
    answered: float | None = None
    attempts: int = 0
    failures: list[str] = field(default_factory=list)  # why attempts failed: "502", "ServerDisconnectedError"…
    taken: bool = False  # the deployment answered a request with a 2xx
    deferred: bool = False  # first told that the answer is coming
    silent: bool = False  # answered with no reply at all (right only while a volunteer holds the conversation)
    refused: str | None = None  # a 4xx other than 429: not sent again

    @property
    def latency_s(self) -> float | None:
        return None if self.answered is None else self.answered - self.started

    @property
    def impaired(self) -> bool:
        return bool(self.failures) or self.deferred or self.silent or self.answered is None


class SimulatedCitizen:
    """A citizen on one channel; subclasses send, the channel's way, and collect what arrives."""

    channel = ""

    def __init__(self, crowd: Crowd):
        self.crowd = crowd
        self.user_id = ""  # the citizen's id on the channel, as the deployment stores it
        self.received: list[Received] = []
        self.exchanges: list[Exchange] = []
        self._arrival = asyncio.Event()

    async def open(self) -> None:
        """Gets ready to write (a web page opens its conversation and stream)."""

    async def close(self) -> None:
        """Stops listening."""

    def arrive(self, text: str, at: float) -> None:
        self.received.append(Received(text, at))
        self._arrival.set()

    async def ask(self, text: str) -> Exchange:
        exchange = Exchange(self.channel, text, time.monotonic())
        self.exchanges.append(exchange)
        mark = len(self.received)
        if await self._send(text, exchange):
            answer = await self._answer_after(mark, exchange.started + GIVE_UP_S)
            if answer is not None:
                exchange.answered, exchange.silent = answer.at, not answer.text
                exchange.deferred = any(self.crowd.is_notice(r.text) for r in self.received[mark:])
        return exchange

    async def _send(self, text: str, exchange: Exchange) -> bool:
        """Delivers the question until the deployment takes it (2xx); False if it never did."""
        raise NotImplementedError

    async def _answer_after(self, mark: int, deadline: float) -> Received | None:
        """The first reply after `mark` that answers (not a notice that the answer is coming); an
        empty one when the deployment handled the question silently because a volunteer is
        awaited (a citizen then waits for the volunteer, not for the bot)."""
        while True:
            found = next((r for r in self.received[mark:] if not self.crowd.is_notice(r.text)), None)
            remaining = deadline - time.monotonic()
            if found is not None or remaining <= 0:
                return found
            self._arrival.clear()
            try:
                await asyncio.wait_for(self._arrival.wait(), min(remaining, HELD_CHECK_S))
            except asyncio.TimeoutError:
                if await asyncio.to_thread(held_for_volunteer, self.crowd.database_url, self):
                    return Received("", time.monotonic())

    async def _post_until_taken(self, exchange: Exchange, path: str, **request) -> dict | None:
        """POSTs until a 2xx (its JSON body) or a refusal; waits out 429s, retries failures unchanged."""
        deadline = exchange.started + GIVE_UP_S
        while True:
            exchange.attempts += 1
            pause = RETRY_PAUSE_S
            try:
                async with self.crowd.http.post(self.crowd.url + path, **request) as response:
                    body = await response.read()
                    if response.status < 300:
                        exchange.taken = True
                        return json.loads(body) if body else {}
                    failure = str(response.status)
                    if response.status == 429:
                        pause = float(response.headers.get("Retry-After", 1))
                    elif response.status < 500:
                        exchange.refused = failure
                        return None
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                failure = type(exc).__name__
            exchange.failures.append(failure)
            if time.monotonic() + pause > deadline:
                return None
            await asyncio.sleep(pause)


class WebCitizen(SimulatedCitizen):
    """The chat page: opens a conversation, keeps its event stream open (reconnecting after a
    drop, with the last id it saw), acknowledges what it shows and posts questions with ids."""

    channel = "web"

    def __init__(self, crowd: Crowd):
        super().__init__(crowd)
        self._numbers = itertools.count(1)
        self._shown: set[str] = set()  # stream event ids already shown (a page shows each once)
        self._last_event_id: str | None = None
        self._stream_task: asyncio.Task | None = None
        self._connected = asyncio.Event()
        self.redelivered = 0  # stream events that came again with an id already shown
        self.reconnects = 0
        self.stream_failure = ""  # why the stream last failed, for a person reading a failed run
        self.unacknowledged = 0  # shown, but the acknowledgement never went through

    async def open(self) -> None:
        opening = Exchange(self.channel, "", time.monotonic())
        body = await self._post_until_taken(opening, "/api/chat/session", json={})
        if body is None:
            raise RuntimeError(f"no web conversation: {opening.failures[-3:] or opening.refused}")
        self.user_id = body["sender_id"]
        self._stream_task = asyncio.create_task(self._listen())
        try:
            await asyncio.wait_for(self._connected.wait(), REQUEST_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise RuntimeError(f"no web stream within {REQUEST_TIMEOUT_S} s: {self.stream_failure}") from None

    async def close(self) -> None:
        if self._stream_task is not None:
            self._stream_task.cancel()
            await asyncio.gather(self._stream_task, return_exceptions=True)

    async def _send(self, text: str, exchange: Exchange) -> bool:
        message_id = f"{self.user_id[-12:]}-{next(self._numbers)}"
        body = await self._post_until_taken(
            exchange, "/api/chat", json={"sender_id": self.user_id, "text": text, "message_id": message_id}
        )
        if body is None:
            return False
        at = time.monotonic()
        for reply in body.get("replies", []):
            self.arrive(reply["text"], at)
        if not body.get("replies"):
            self.arrive("", at)  # a silent answer (a volunteer holds the conversation) is an answer
        return True

    async def _listen(self) -> None:
        while True:
            headers = {"Authorization": f"Bearer {self.user_id}"}
            if self._last_event_id is not None:
                headers["Last-Event-ID"] = self._last_event_id
            try:
                async with self.crowd.stream_http.get(self.crowd.url + "/api/chat/stream", headers=headers) as response:
                    self.stream_failure = f"HTTP {response.status}"
                    if response.status == 200:
                        await self._read(response)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                self.stream_failure = repr(exc)
            self.reconnects += 1
            await asyncio.sleep(RETRY_PAUSE_S)

    async def _read(self, response: aiohttp.ClientResponse) -> None:
        event_id, data = None, None
        async for raw in response.content:
            line = raw.decode("utf-8").rstrip("\r\n")
            if line == ": connected":
                self._connected.set()
            elif line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and data is not None:
                await self._show(event_id, data)
                event_id, data = None, None

    async def _show(self, event_id: str | None, data: dict) -> None:
        if event_id is not None:
            self._last_event_id = event_id
            if event_id in self._shown:
                self.redelivered += 1
                return
            self._shown.add(event_id)
        self.arrive(data.get("text", ""), time.monotonic())
        if event_id is not None:
            await self._acknowledge(event_id)

    async def _acknowledge(self, event_id: str) -> None:
        """Tells the deployment the page shows the message; tried again after a failure, as a page would."""
        for _ in range(ACK_ATTEMPTS):
            try:
                async with self.crowd.http.post(
                    self.crowd.url + "/api/chat/ack",
                    json={"ids": [int(event_id)]},
                    headers={"Authorization": f"Bearer {self.user_id}"},
                ) as response:
                    await response.read()
                    if response.status < 300:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(RETRY_PAUSE_S)
        self.unacknowledged += 1  # the page gets it again on its next connect


class TelegramCitizen(SimulatedCitizen):
    """A private chat with the bot: Telegram POSTs each update to the webhook with the secret."""

    channel = "telegram"

    def __init__(self, crowd: Crowd, number: int):
        super().__init__(crowd)
        self.chat_id = 7_000_000 + number
        self.user_id = str(self.chat_id)
        crowd.servers.telegram.add_user(self.chat_id, "Hoa")

    async def _send(self, text: str, exchange: Exchange) -> bool:
        update = self.crowd.servers.telegram.make_message_update(self.chat_id, self.chat_id, text)
        return (
            await self._post_until_taken(
                exchange,
                "/webhooks/telegram",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
            )
            is not None
        )


class ZaloCitizen(SimulatedCitizen):
    """A Zalo user writing to the OA: Zalo POSTs each event signed with the OA secret."""

    channel = "zalo"

    def __init__(self, crowd: Crowd, number: int):
        super().__init__(crowd)
        self.user_id = str(2_468_458_835_000_000_000 + number)
        self._numbers = itertools.count(1)
        crowd.servers.zalo.add_user(self.user_id)

    async def _send(self, text: str, exchange: Exchange) -> bool:
        zalo = self.crowd.servers.zalo
        timestamp = str(int(time.time() * 1000))
        event = {
            "app_id": zalo.app_id,
            "user_id_by_app": "552177279717587730",
            "event_name": "user_send_text",
            "timestamp": timestamp,
            "sender": {"id": self.user_id},
            "recipient": {"id": ZALO_OA_ID},
            "message": {"msg_id": f"{self.user_id}-{next(self._numbers)}", "text": text},
        }
        body = json.dumps(event, ensure_ascii=False).encode()
        mac = hashlib.sha256(zalo.app_id.encode() + body + timestamp.encode() + ZALO_OA_SECRET.encode()).hexdigest()
        return (
            await self._post_until_taken(
                exchange,
                "/webhooks/zalo",
                data=body,
                headers={"X-ZEvent-Signature": f"mac={mac}", "Content-Type": "application/json"},
            )
            is not None
        )


# -- The contract servers and the crowd -------------------------------------------------------------------------


class ContractServers:
    """Local servers implementing Telegram's Bot API and Zalo's OA API, which the deployment sends to."""

    def __init__(self):
        self.telegram = FakeTelegramAPI()
        self.zalo = FakeZaloAPI()

    def __enter__(self) -> ContractServers:
        self.telegram.start()
        self.zalo.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.telegram.stop()
        self.zalo.stop()

    def env(self) -> dict[str, str]:
        """The deployment's channel settings pointing at these servers (webhook mode on Telegram)."""
        return {
            "TELEGRAM_TOKEN": self.telegram.token,
            "TELEGRAM_API_URL": self.telegram.base_url,
            "TELEGRAM_FILE_URL": self.telegram.base_file_url,
            "TELEGRAM_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_WEBHOOK_URL": TELEGRAM_WEBHOOK,
            "ZALO_APP_ID": self.zalo.app_id,
            "ZALO_APP_SECRET": self.zalo.app_secret,
            "ZALO_OA_SECRET": ZALO_OA_SECRET,
            "ZALO_API_URL": self.zalo.base_url,
            "ZALO_OAUTH_URL": self.zalo.base_url,
        }

    def authorise_zalo(self, database_url: str) -> None:
        """What an admin's authorisation of the OA leaves in the deployment's database: a token pair."""
        access, refresh = self.zalo.issue_tokens()
        now = utcnow()
        with Session(engine_for(database_url)) as session, session.begin():
            session.merge(
                ZaloToken(
                    id=1,
                    access_token=access,
                    refresh_token=refresh,
                    expires_at=now + ZALO_TOKEN_LIFETIME,
                    updated_at=now,
                )
            )


class Crowd:
    """The citizens of one run, their HTTP clients, and the mailroom that hands each of them what
    the contract servers recorded for them."""

    def __init__(
        self, url: str, database_url: str, servers: ContractServers, notices: tuple[str, ...], connections: int
    ):
        self.url, self.database_url, self.servers = url, database_url, servers
        self.notices = {squeeze(n) for n in notices}
        self.citizens: list[SimulatedCitizen] = []
        self._by_address: dict[tuple[str, str], SimulatedCitizen] = {}
        self._numbers = itertools.count(random.randrange(10**9))
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        self.http = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=connections))
        # pages stay open until the run ends (late replies still reach them): one connection each
        self.stream_http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10), connector=aiohttp.TCPConnector(limit=0)
        )
        self._telegram_seen = self._zalo_seen = 0

    def is_notice(self, text: str) -> bool:
        return squeeze(text) in self.notices

    async def citizen(self, channel: str) -> SimulatedCitizen:
        if channel == "web":
            citizen: SimulatedCitizen = WebCitizen(self)
            await citizen.open()
        else:
            citizen = (TelegramCitizen if channel == "telegram" else ZaloCitizen)(self, next(self._numbers))
        self.citizens.append(citizen)
        self._by_address[(channel, citizen.user_id)] = citizen
        return citizen

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.citizens))
        await self.http.close()
        await self.stream_http.close()

    async def mailroom(self) -> None:
        """Hands each Telegram and Zalo citizen the messages the bot sent them, as they arrive."""
        while True:
            self.collect()
            await asyncio.sleep(MAILROOM_PERIOD_S)

    def collect(self) -> None:
        sent = self.servers.telegram.timed_calls("sendMessage")
        for at, params in sent[self._telegram_seen :]:
            if citizen := self._by_address.get(("telegram", str(params["chat_id"]))):
                citizen.arrive(params["text"], at)
        self._telegram_seen = len(sent)
        if self.servers.zalo.message_calls > self._zalo_seen:
            now, messages = time.monotonic(), self.servers.zalo.messages
            for message in messages[self._zalo_seen :]:
                if citizen := self._by_address.get(("zalo", message["user_id"])):
                    citizen.arrive(message["message"]["text"], now)
            self._zalo_seen = len(messages)


# -- A run --------------------------------------------------------------------------------------------------------


@dataclass
class LoadRun:
    crowd: Crowd
    started: float
    ended: float
    during: object = None  # what the `during` coroutine returned (a fault's timings)

    @property
    def exchanges(self) -> list[Exchange]:
        return [e for c in self.crowd.citizens for e in c.exchanges]


async def run_load(
    url: str,
    database_url: str,
    servers: ContractServers,
    *,
    conversations: int,
    duration_s: float,
    questions: list[str],
    per_conversation: int = 3,
    think_s: float = 0.0,
    seed: int = 14,
    notices: tuple[str, ...] = (),
    channels: tuple[str, ...] = CHANNELS,
    during: Callable[[Crowd], Awaitable[object]] | None = None,
    keep_going: Callable[[], bool] = lambda: False,
) -> LoadRun:
    """`conversations` citizens at a time, channels taken in turn, each asking `per_conversation`
    questions one after the other, pausing about `think_s` before each (then a new citizen takes
    the slot), until `duration_s` is over and `keep_going()` is false; `during(crowd)` runs
    alongside (a fault). Returns once the deployment has delivered everything it stored."""
    crowd = Crowd(url, database_url, servers, notices, connections=2 * conversations + 20)
    deadline = time.monotonic() + duration_s

    def going_on() -> bool:
        return time.monotonic() < deadline or keep_going()

    async def slot(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        channel = channels[number % len(channels)]
        while going_on():
            citizen = await crowd.citizen(channel)
            for text in rng.sample(questions, per_conversation):
                if think_s:  # citizens read and type: they do not all write at the same moment
                    await asyncio.sleep(rng.uniform(0.5 * think_s, 1.5 * think_s))
                exchange = await citizen.ask(text)
                if exchange.answered is None or not going_on():
                    return
                if exchange.silent:  # waiting for a volunteer now: a new citizen takes the slot
                    break

    mailroom = asyncio.create_task(crowd.mailroom())
    beside = asyncio.create_task(during(crowd)) if during else None
    started = time.monotonic()
    try:
        await asyncio.gather(*(slot(n) for n in range(conversations)))
        ended = time.monotonic()
        result = await beside if beside else None
        await settle(database_url, crowd)
    finally:
        if beside is not None and not beside.done():
            beside.cancel()
        mailroom.cancel()
        await crowd.close()
    return LoadRun(crowd, started, ended, result)


async def settle(database_url: str, crowd: Crowd, timeout_s: float = 120) -> None:
    """Waits until nothing stored for the crowd is still to be delivered (a page acknowledges what
    it shows), then reads what the contract servers got last."""
    deadline = time.monotonic() + timeout_s
    while (
        pending := await asyncio.to_thread(pending_for, database_url, crowd.citizens)
    ) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    crowd.collect()
    if pending:
        pages = [
            f"{c.user_id[-6:]}: {c.reconnects} reconnects, last {c.stream_failure}"  # why, for whoever reads
            for c in crowd.citizens
            if c.channel == "web"
            and any(
                m.direction == "out" and m.status == "pending"
                for m in stored_for(database_url, [c])[("web", c.user_id)]
            )
        ]
        raise TimeoutError(
            f"replies still undelivered {timeout_s:.0f} s after the load, per channel: {dict(pending)}; "
            f"web pages with some: {pages[:10]}"
        )


def pending_for(database_url: str, citizens: list[SimulatedCitizen]) -> Counter:
    return Counter(
        channel
        for (channel, _), messages in stored_for(database_url, citizens).items()
        for m in messages
        if m.direction == "out" and m.status == "pending"
    )


# -- The exactly-once check ---------------------------------------------------------------------------------------


def expected_texts(channel: str, text: str, buttons: list) -> list[str]:
    """How one stored reply reaches the citizen on a channel: Telegram and Zalo cut long texts,
    and Zalo sends buttons past its fifth in short messages of their own."""
    if channel == "telegram":
        return split_text(text, TELEGRAM_MAX_TEXT)
    if channel == "zalo":
        extra = max(0, (len(buttons) - 1) // ZALO_MAX_BUTTONS)
        return split_text(text, ZALO_MAX_TEXT) + [ZALO_MORE_CHOICES] * extra
    return [text]


@dataclass
class Check:
    citizens: int = 0
    questions_sent: int = 0  # taken with a 2xx
    questions_stored: int = 0
    replies_stored: int = 0
    replies_received: int = 0
    lost: int = 0  # stored, never received
    repeats: int = 0  # received again
    most_deliveries: int = 0  # the most times one stored reply arrived
    out_of_order: int = 0
    unexpected: int = 0  # received, never stored
    unanswered: int = 0  # questions whose citizen gave up waiting
    question_mismatch: int = 0  # citizens whose questions were not stored exactly once each
    unhandled: int = 0  # questions stored but never handled
    unreplied: int = 0  # questions handled without a word back, though no volunteer held the conversation
    problems: list[str] = field(default_factory=list)  # the first few, for a person to read

    @property
    def passed(self) -> bool:
        return not (
            self.lost
            or self.out_of_order
            or self.unexpected
            or self.unanswered
            or self.question_mismatch
            or self.unhandled
            or self.unreplied
            or self.most_deliveries > 2
        )

    def as_dict(self) -> dict:
        return {
            **{k: v for k, v in self.__dict__.items() if k != "problems"},
            "passed": self.passed,
            "problems": self.problems[:10],
        }


class Stored(NamedTuple):
    direction: str  # "in" | "out"
    text: str
    buttons: list
    status: str
    outcome: str | None  # a question's turn: "answer", "decline", "handoff" (a volunteer holds it)…


def stored_for(database_url: str, citizens: list[SimulatedCitizen]) -> dict[tuple[str, str], list[Stored]]:
    """Every message the deployment stored for these citizens, in the order it stored them."""
    wanted = {(c.channel, c.user_id) for c in citizens}
    stored: dict[tuple[str, str], list[Stored]] = defaultdict(list)
    with Session(engine_for(database_url)) as session:
        rows = session.execute(
            select(
                Citizen.channel,
                Citizen.channel_user_id,
                Message.direction,
                Message.text,
                Message.buttons,
                Message.status,
                Turn.outcome,
            )
            .join(Conversation, Conversation.citizen_id == Citizen.id)
            .join(Message, Message.conversation_id == Conversation.id)
            .outerjoin(Turn, Turn.message_id == Message.id)
            .where(Citizen.channel_user_id.in_([user_id for _, user_id in wanted]))
            .order_by(Message.id)
        )
        for channel, user_id, *message in rows:
            if (channel, user_id) in wanted:
                stored[(channel, user_id)].append(Stored(*message))
    return stored


def held_for_volunteer(database_url: str, citizen: SimulatedCitizen) -> bool:
    """The citizen's last question was handled, without a reply, for a volunteer to answer."""
    messages = stored_for(database_url, [citizen])[(citizen.channel, citizen.user_id)]
    return (
        bool(messages)
        and messages[-1].direction == "in"
        and messages[-1].status == HANDLED
        and messages[-1].outcome == "handoff"
    )


def check_exactly_once(database_url: str, crowd: Crowd) -> Check:
    check = Check(citizens=len(crowd.citizens))
    stored = stored_for(database_url, crowd.citizens)
    for citizen in crowd.citizens:
        messages = stored[(citizen.channel, citizen.user_id)]
        asked = [squeeze(mask(e.text).text) for e in citizen.exchanges if e.taken]  # stored masked
        questions = [squeeze(m.text) for m in messages if m.direction == "in"]
        unhandled = Counter(m.status for m in messages if m.direction == "in" and m.status != HANDLED)
        check.unhandled += unhandled.total()
        if unhandled:
            story = " ".join(f"{m.direction}:{m.status}" for m in messages)  # where it stopped
            check.problems.append(f"{citizen.channel} {citizen.user_id}: questions left {dict(unhandled)} ({story})")
        unreplied = sum(
            1
            for m, after in zip(messages, [*messages[1:], None])
            if m.direction == "in"
            and m.status == HANDLED
            and m.outcome != "handoff"
            and (after is None or after.direction == "in")
        )
        check.unreplied += unreplied
        if unreplied:
            check.problems.append(f"{citizen.channel} {citizen.user_id}: {unreplied} questions got no reply")
        check.questions_sent += len(asked)
        check.questions_stored += len(questions)
        check.unanswered += sum(1 for e in citizen.exchanges if e.answered is None)
        if questions != asked:
            check.question_mismatch += 1
            check.problems.append(f"{citizen.channel} {citizen.user_id}: asked {len(asked)}, stored {len(questions)}")
        expected = [
            squeeze(part)
            for m in messages
            if m.direction == "out"
            for part in expected_texts(citizen.channel, m.text, m.buttons)
        ]
        received = [squeeze(r.text) for r in citizen.received if r.text]
        check.replies_stored += len(expected)
        check.replies_received += len(received)
        _compare(check, citizen, expected, received)
    return check


def _compare(check: Check, citizen: SimulatedCitizen, expected: list[str], received: list[str]) -> None:
    """Matches each received text to the first stored reply of that text not yet received
    (else it repeats one), then checks the matched replies came in the stored order."""
    deliveries = [0] * len(expected)
    positions: dict[str, list[int]] = defaultdict(list)
    for index, text in enumerate(expected):
        positions[text].append(index)
    order = []
    for text in received:
        if text in positions:
            index = next((i for i in positions[text] if deliveries[i] == 0), positions[text][-1])
            if deliveries[index]:
                check.repeats += 1
            else:
                order.append(index)
            deliveries[index] += 1
        else:
            check.unexpected += 1
            check.problems.append(f"{citizen.channel} {citizen.user_id}: unexpected {text[:60]!r}")
    lost = deliveries.count(0)
    check.lost += lost
    if lost:
        check.problems.append(f"{citizen.channel} {citizen.user_id}: {lost} of {len(expected)} replies never arrived")
    check.most_deliveries = max([check.most_deliveries, *deliveries])
    misplaced = sum(1 for before, after in zip(order, order[1:]) if after < before)
    check.out_of_order += misplaced
    if misplaced:
        check.problems.append(f"{citizen.channel} {citizen.user_id}: replies out of order {order}")


# -- Figures ------------------------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def figures(run: LoadRun) -> dict:
    """Throughput, latency per channel and errors of a run."""
    exchanges = run.exchanges
    answered = [e for e in exchanges if e.answered is not None]
    elapsed = max([e.answered for e in answered], default=run.ended) - run.started  # not a last citizen giving up
    by_channel = {}
    for channel in CHANNELS:
        mine = [e for e in exchanges if e.channel == channel]
        latencies = [e.latency_s * 1000 for e in mine if e.latency_s is not None]
        by_channel[channel] = {
            "messages": len(mine),
            "answered": len(latencies),
            **{f"p{p}_ms": None if (v := percentile(latencies, p)) is None else round(v) for p in (50, 95, 99)},
        }
    failures = Counter(f for e in exchanges for f in e.failures)
    return {
        "duration_s": round(elapsed, 1),
        "messages": len(exchanges),
        "answered": len(answered),
        "messages_per_s": round(len(answered) / max(elapsed, 1e-9), 2),
        "channels": by_channel,
        "errors": {
            "failed_attempts": sum(failures.values()),
            "by_kind": dict(failures),
            "questions_retried": sum(1 for e in exchanges if e.failures),
            "refused": sum(1 for e in exchanges if e.refused),
            "unanswered": len(exchanges) - len(answered),
            "deferred": sum(1 for e in exchanges if e.deferred),
            "silent": sum(1 for e in exchanges if e.silent),
        },
        "web_stream": {
            key: sum(getattr(c, key, 0) for c in run.crowd.citizens)
            for key in ("reconnects", "redelivered", "unacknowledged")
        },
    }
