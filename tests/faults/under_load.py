"""One fault in the middle of a load of simulated citizens (benchmarks/crowd.py), and what the
tests look at afterwards: the exactly-once check, the recovery time, and a guided citizen and a
waiting citizen set up before the fault.

Recovery is measured without any manual step: probe citizens on the web chat, one per Rasa
replica, ask again and again from the moment of the fault; the deployment has recovered when
every probe's question is answered straight away again (no failed request, no "the answer is
coming" notice)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from benchmarks.crowd import (
    ContractServers,
    Crowd,
    LoadRun,
    WebCitizen,
    check_exactly_once,
    engine_for,
    figures,
    load_questions,
    run_load,
)
from bot.city import City
from bot.rasa_client import RasaClient
from bot.router import ANSWER_COMING
from bot.storage.models import Citizen, Conversation, Handoff, Owner
from tests.integration.conftest import button, texts
from tests.integration.people import ASK_HUMAN
from tests.integration.people import WebCitizen as PageCitizen
from tests.waiting import wait_until

NOTICES = (ANSWER_COMING,)
PROBE = "đăng ký khai sinh cần giấy tờ gì"  # answered by the action server, from the knowledge base
PROBE_PAUSE_S = 0.5
QUESTIONS = load_questions()


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[City], None]  # returns once the fault happened (a restart: once the server is back)
    process: str | None = None  # the app process it kills, which the supervisor must start again


def kill(process: str, times: int = 1) -> Fault:
    """kill -9 of an app process; again as soon as the supervisor started it anew, `times` times in all."""

    def inject(city: City) -> None:
        for time_ in range(times):
            pid = city.pid(process)
            os.killpg(pid, signal.SIGKILL)
            if time_ < times - 1:
                wait_until(lambda: city.pid(process) != pid, f"{process} was not started again", timeout_s=60)

    return Fault(f"kill -9 {process}" + (f" ({times} times)" if times > 1 else ""), inject, process)


RESTART_POSTGRES = Fault("PostgreSQL restart", City.restart_postgres)
RESTART_REDIS = Fault("Redis restart", City.restart_redis)


@dataclass
class Timings:
    injected_s: float  # how long the fault took to happen (a restart: stop and start)
    recovery_s: float  # from the fault until every probe is answered straight away again
    restarted_s: float | None  # from the fault until the supervisor had a new process running


@dataclass
class Outcome:
    fault: str
    run: LoadRun
    timings: Timings

    def report(self, city: City) -> dict:
        check = check_exactly_once(city.database_url, self.run.crowd)
        return {
            "fault": self.fault,
            "injected_s": round(self.timings.injected_s, 1),
            "recovery_s": round(self.timings.recovery_s, 1),
            "restarted_s": None if self.timings.restarted_s is None else round(self.timings.restarted_s, 1),
            "check": check,
            "figures": figures(self.run),
        }


def conversation_of(city: City, channel: str, user_id: str) -> Conversation:
    with Session(engine_for(city.database_url)) as session:
        return session.scalars(
            select(Conversation)
            .join(Citizen)
            .where(Citizen.channel == channel, Citizen.channel_user_id == user_id)
            .order_by(Conversation.id.desc())
        ).first()


def rasa_replica_of(city: City, channel: str, user_id: str) -> int:
    """Which Rasa replica the gateways send this citizen's conversation to."""
    routing = RasaClient(city.settings.rasa_urls, token="")
    return city.settings.rasa_urls.index(routing.replica_url(conversation_of(city, channel, user_id).rasa_sender_id))


async def probes(crowd: Crowd, city: City, tries: int = 16) -> list[WebCitizen]:
    """New web citizens until one talks to each Rasa replica."""
    found: dict[int, WebCitizen] = {}
    for _ in range(tries):
        citizen = await crowd.citizen("web")
        assert (await citizen.ask(PROBE)).answered is not None, "a probe got no answer before the fault"
        found.setdefault(rasa_replica_of(city, "web", citizen.user_id), citizen)
        if len(found) == len(city.settings.rasa_urls):
            return list(found.values())
    raise AssertionError(f"no probe conversation reached every Rasa replica in {tries} tries")


async def answered_straight_away(probe: WebCitizen) -> float:
    """When a question of this probe is first answered with no failure and no notice."""
    while True:
        exchange = await probe.ask(PROBE)
        if exchange.answered is not None and not exchange.impaired:
            return exchange.answered
        assert exchange.answered is not None, f"a probe's question was never answered: {exchange}"
        await asyncio.sleep(PROBE_PAUSE_S)


async def restarted(city: City, process: str, old_pid: int, timeout_s: float) -> float:
    deadline = time.monotonic() + timeout_s
    while city.pid(process) == old_pid:
        assert time.monotonic() < deadline, f"{process} was not started again within {timeout_s:.0f} s"
        await asyncio.sleep(0.1)
    return time.monotonic()


def under_load(
    city: City,
    servers: ContractServers,
    fault: Fault,
    *,
    conversations: int = 24,
    before_s: float = 8,
    after_s: float = 5,
    think_s: float = 2,
    recovery_bound_s: float = 240,
) -> Outcome:
    """`conversations` citizens writing; `before_s` seconds in, the fault; the load goes on until
    the deployment recovered and `after_s` seconds more."""
    recovered = asyncio.Event()

    async def fault_in_the_middle(crowd: Crowd) -> Timings:
        try:
            started = time.monotonic()
            watchers = await probes(crowd, city)
            await asyncio.sleep(max(0.0, before_s - (time.monotonic() - started)))
            old_pid = city.pid(fault.process) if fault.process else None
            at = time.monotonic()
            await asyncio.to_thread(fault.inject, city)
            injected = time.monotonic()
            back = (
                asyncio.create_task(restarted(city, fault.process, old_pid, recovery_bound_s))
                if fault.process
                else None
            )
            answered = await asyncio.wait_for(
                asyncio.gather(*(answered_straight_away(p) for p in watchers)), recovery_bound_s
            )
            timings = Timings(injected - at, max(answered) - at, (await back) - at if back else None)
            await asyncio.sleep(after_s)  # the load goes on a little after recovery
            return timings
        finally:
            recovered.set()  # the load stops, recovered or not

    run = asyncio.run(
        run_load(
            city.url,
            city.database_url,
            servers,
            conversations=conversations,
            duration_s=0,
            questions=QUESTIONS,
            think_s=think_s,
            notices=NOTICES,
            during=fault_in_the_middle,
            keep_going=lambda: not recovered.is_set(),
        )
    )
    return Outcome(fault.name, run, run.during)


# -- A guided citizen and a waiting one, through nginx like everyone -------------------------------------------------


class Guided:
    """A citizen at step 2 of the birth registration guide."""

    def __init__(self, city: City):
        self.citizen = PageCitizen(city.url)
        start = self.citizen.say("hướng dẫn tôi nộp khai sinh trực tuyến")
        step_one = self.citizen.say(button(start, "Bắt đầu"))
        self.step = self.citizen.say(button(step_one, "Xong"))
        assert texts(self.step).startswith("Bước 2/"), self.step

    def still_at_step_two(self) -> bool:
        return texts(self.citizen.say(button(self.step, "Nhắc lại"))).startswith("Bước 2/")


class Waiting:
    """A citizen who asked for a volunteer while nobody was on duty: the request is queued."""

    def __init__(self, city: City):
        self.city = city
        self.citizen = PageCitizen(city.url)
        self.citizen.say(ASK_HUMAN)
        assert self.queued(), "the request for a volunteer was not queued"

    def queued(self) -> bool:
        conversation = conversation_of(self.city, "web", self.citizen.sender)
        with Session(engine_for(self.city.database_url)) as session:
            handoff = session.scalars(
                select(Handoff).where(Handoff.conversation_id == conversation.id).order_by(Handoff.id.desc())
            ).first()
        return conversation.owner == Owner.queued and handoff is not None and handoff.status == "queued"

    def still_queued(self) -> bool:
        """Still waiting, and a new message is kept for the volunteer rather than answered by the bot."""
        kept = self.citizen.say("em vẫn đang chờ ạ")
        return self.queued() and all("ghi lại" in reply["text"] for reply in kept)


def survives(
    city: City, servers: ContractServers, fault: Fault | None = None, *, recovery_bound_s: float, **load
) -> dict:
    """Runs a fault under load (by default kill -9 of the guided citizen's Rasa replica), prints
    what came of it and checks it all: nothing lost or repeated twice, guide and queue intact,
    recovered in time."""
    guided, waiting = Guided(city), Waiting(city)
    fault = fault or kill(f"rasa-{rasa_replica_of(city, 'web', guided.citizen.sender)}")
    report = under_load(city, servers, fault, recovery_bound_s=recovery_bound_s, **load).report(city)
    check = report["check"]
    print(json.dumps({**report, "check": check.as_dict()}, ensure_ascii=False))
    assert check.passed, check.as_dict()
    server_errors = {kind for kind in report["figures"]["errors"]["by_kind"] if kind in ("500", "501")}
    assert not server_errors, f"the gateways answered a fault with a server error: {server_errors}"
    assert report["recovery_s"] < recovery_bound_s
    assert guided.still_at_step_two(), "the guide lost its step"
    assert waiting.still_queued(), "the request for a volunteer is no longer queued"
    return report
