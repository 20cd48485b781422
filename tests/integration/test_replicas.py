"""Two gateway replicas sharing the database and Redis (the city deployment): the citizen's web
chat is open on one, the volunteer's console on the other, and everything still arrives — once."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import Volunteer
from tests import redis_server
from tests.integration.conftest import texts
from tests.integration.people import ASK_HUMAN, Console, WebCitizen
from tests.integration.replica import Replica
from tests.system import require


@pytest.fixture(scope="module")
def replicas(stack):
    require(redis_server.available(), "redis-server")
    with redis_server.redis_server() as url:
        settings = get_settings().model_copy(update={"redis_url": url})
        with Replica(settings) as first, Replica(settings) as second:
            yield first, second


def test_citizen_on_one_replica_volunteer_on_the_other(replicas):
    citizen_side, volunteer_side = replicas
    with session_scope() as session:
        session.execute(update(Volunteer).values(online=False))
    lan = Console(volunteer_side.url, "Lan")
    console_events = lan.stream()
    citizen = WebCitizen(citizen_side.url)

    assert "em đã báo tình nguyện viên" in texts(citizen.say(ASK_HUMAN))
    handoff = citizen.handoff().id
    console_events.wait_for(lambda d: d["handoff_id"] == handoff and d["kind"] == "queued", name="handoff")
    assert lan.post(f"/console/api/handoffs/{handoff}/claim").status_code == 200
    citizen.inbox.wait_for(lambda m: m["text"] == "Dạ, tình nguyện viên Lan đang hỗ trợ anh/chị.")

    assert citizen.say("Em cần làm giấy khai sinh cho con") == []
    console_events.wait_for(lambda d: d.get("message", {}).get("text") == "Em cần làm giấy khai sinh cho con")
    assert lan.send(handoff, "Dạ, chị đã có giấy chứng sinh chưa ạ?").status_code == 200
    citizen.inbox.wait_for(lambda m: m["text"] == "Dạ, chị đã có giấy chứng sinh chưa ạ?")

    assert lan.post(f"/console/api/handoffs/{handoff}/hand-back", {"step": None}).status_code == 200
    citizen.inbox.wait_for(lambda m: "Trợ lý ảo tiếp tục hỗ trợ" in m["text"])
    delivered = citizen.inbox.texts()
    assert len(delivered) == len(set(delivered)), f"a message arrived twice: {delivered}"
