"""The people of the handoff tests: a volunteer's console session and a citizen in the web chat."""

from __future__ import annotations

import itertools

import httpx
from sqlalchemy import select

from bot.console import auth
from bot.storage.db import session_scope
from bot.storage.models import Citizen, Conversation, Handoff, Message, Owner
from tests.integration.replica import EventStream

PASSWORD = "mật-khẩu-thử-nghiệm"
ASK_HUMAN = "tôi muốn gặp tình nguyện viên"
_ids = itertools.count()


class Console:
    """One volunteer's browser session on the console API."""

    def __init__(self, base: str, name: str, role: str = "volunteer", online: bool = True):
        self.username = f"{name.lower()}{next(_ids)}"
        with session_scope() as session:
            self.id = auth.create_account(session, self.username, name, PASSWORD, role).id
        self.http = httpx.Client(base_url=base, timeout=30)
        me = self.http.post("/console/api/login", json={"username": self.username, "password": PASSWORD})
        assert me.status_code == 200, me.text
        self.csrf = me.json()["csrf"]
        if online:
            assert self.post("/console/api/status", {"online": True}).status_code == 200

    def post(self, path: str, body: dict | None = None) -> httpx.Response:
        return self.http.post(path, json=body or {}, headers={auth.CSRF_HEADER: self.csrf})

    def entry(self, slug: str) -> dict:
        """`{"revision", "entry"}` of a knowledge entry, from the staff editor's API."""
        response = self.http.get(f"/admin/api/entries/{slug}")
        assert response.status_code == 200, response.text
        return response.json()

    def publish(self, slug: str, entry: dict) -> int:
        """Publishes `entry` over the latest revision; the new revision."""
        response = self.http.put(
            f"/admin/api/entries/{slug}",
            json={"revision": self.entry(slug)["revision"], "entry": entry},
            headers={auth.CSRF_HEADER: self.csrf},
        )
        assert response.status_code == 200, response.text
        return response.json()["revision"]

    def queue(self) -> dict:
        return self.http.get("/console/api/queue").json()

    def send(self, handoff_id: int, text: str, confirm: bool = False) -> httpx.Response:
        return self.post(f"/console/api/handoffs/{handoff_id}/messages", {"text": text, "confirm": confirm})

    def stream(self) -> EventStream:
        return EventStream("/console/api/events", self.http).start_and_wait()


def open_conversation(http: httpx.Client) -> str:
    """A server-issued web conversation id, as the page gets one (the client also keeps its cookie)."""
    response = http.post("/api/chat/session", json={})
    response.raise_for_status()
    return response.json()["sender_id"]


def bearer(sender_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {sender_id}"}


class WebCitizen:
    """A citizen in the web chat: `say` posts like the page does, `inbox` is the page's push stream
    (authenticated as a tool would, with the issued id as a Bearer token)."""

    def __init__(self, base: str):
        self.http = httpx.Client(base_url=base, timeout=60)
        self.sender = open_conversation(self.http)
        self.inbox = EventStream(f"{base}/api/chat/stream", headers=bearer(self.sender)).start_and_wait()

    def say(self, text: str) -> list[dict]:
        response = self.http.post("/api/chat", json={"sender_id": self.sender, "text": text})
        assert response.status_code == 200, response.text
        return response.json()["replies"]

    def ask_for_a_person(self) -> int:
        """Asks for a volunteer; the handoff's id."""
        self.say(ASK_HUMAN)
        return self.handoff().id

    def handoff(self) -> Handoff:
        with session_scope() as session:
            return session.scalars(
                select(Handoff)
                .join(Conversation)
                .join(Citizen)
                .where(Citizen.channel_user_id == self.sender)
                .order_by(Handoff.id.desc())
            ).first()

    def owner(self) -> Owner:
        with session_scope() as session:
            return session.scalars(
                select(Conversation.owner)
                .join(Citizen)
                .where(Citizen.channel_user_id == self.sender)
                .order_by(Conversation.id.desc())
            ).first()

    def messages(self, since_id: int = 0) -> list[Message]:
        with session_scope() as session:
            return session.scalars(
                select(Message)
                .join(Conversation)
                .join(Citizen)
                .where(Citizen.channel_user_id == self.sender, Message.id > since_id)
                .order_by(Message.id)
            ).all()


def volunteer_takes_over(base: str, citizen) -> tuple[Console, EventStream, int]:
    """Lan, on duty with her console open, gets the request of a citizen on a push channel
    (anything with `say` and `reply(predicate)`) and claims it; the citizen is told."""
    lan = Console(base, "Lan")
    events = lan.stream()
    citizen.say("cho tôi gặp tình nguyện viên")
    citizen.reply(lambda m: "em đã báo tình nguyện viên" in m["text"])
    handoff = events.wait_for(lambda d: d["kind"] == "queued", name="handoff")["handoff_id"]
    assert lan.post(f"/console/api/handoffs/{handoff}/claim").status_code == 200
    citizen.reply(lambda m: m["text"] == "Dạ, tình nguyện viên Lan đang hỗ trợ anh/chị.")
    return lan, events, handoff
