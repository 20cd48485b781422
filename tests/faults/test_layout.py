"""The city layout on one machine (`make run-city`): nginx in front of two gateways, two Rasa
replicas sharing PostgreSQL's tracker store and Redis's lock store, the action server, the app's
database in PostgreSQL. (The layout is the fault tests' own, started once for them all.)"""

import re

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot.city import City

pytestmark = pytest.mark.faults


def served_by(city: City) -> set[str]:
    """The gateways that answered a chat message. The access log names the upstreams nginx tried,
    comma-separated when one failed first (a gateway killed earlier): the last one answered."""
    log = (city.folder / "nginx" / "access.log").read_text()
    return {tried.split(", ")[-1] for tried in re.findall(r'"POST /api/chat" 200 ([^\s,]+(?:, [^\s,]+)*) ', log)}


def test_ready_through_nginx_with_every_part_in_place(city):
    ready = httpx.get(f"{city.url}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert city.database_url.startswith("postgresql+psycopg://")
    assert len(city.settings.rasa_urls) == 2 and city.stack.env["RASA_LOCK_STORE"] == "redis"
    memory = city.memory()
    assert set(memory) == {"gateway-0", "gateway-1", "rasa-0", "rasa-1", "actions", "nginx", "postgres", "redis"}
    assert all(rss > 0 for rss in memory.values())


def test_one_conversation_is_answered_through_nginx_on_each_gateway(city):
    gateways = {url.removeprefix("http://") for url in city.gateway_urls}
    with httpx.Client(base_url=city.url, timeout=60) as web:
        sender = web.post("/api/chat/session", json={}).json()["sender_id"]
        for _ in range(6):  # nginx takes turns; a few messages reach both
            answer = web.post("/api/chat", json={"sender_id": sender, "text": "đăng ký khai sinh cần giấy tờ gì"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["about"]["procedure"] == "khai-sinh"
            if served_by(city) == gateways:
                break
    assert served_by(city) == gateways


def test_the_conversation_and_rasa_tracker_are_in_postgresql(city):
    with httpx.Client(base_url=city.url, timeout=60) as web:
        sender = web.post("/api/chat/session", json={}).json()["sender_id"]
        assert web.post("/api/chat", json={"sender_id": sender, "text": "làm căn cước ở đâu"}).status_code == 200
    app = create_engine(city.database_url)
    tracker = create_engine(city.settings.tracker_url.replace("+psycopg2", "+psycopg"))
    try:
        with app.connect() as db:
            assert db.scalar(text("SELECT count(*) FROM conversations")) >= 2
            assert db.scalar(text("SELECT count(*) FROM messages WHERE direction = 'in'")) >= 2
        with tracker.connect() as db:
            assert db.scalar(text("SELECT count(DISTINCT sender_id) FROM events WHERE type_name = 'user'")) >= 2
    finally:
        app.dispose()
        tracker.dispose()
