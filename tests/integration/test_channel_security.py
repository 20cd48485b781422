"""The Telegram and Zalo channels against an attacker (issue 12): Zalo's signature checked against a
known answer computed by hand, hostile JSON refused with a 4xx before anything is stored, and
citizens' media fetched only from the channel's own hosts, with a size cap."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.messages import MediaUnavailable
from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import ChannelEvent
from bot.storage.zalo_tokens import store_tokens
from tests.fakes.zalo_api import FakeZaloAPI
from tests.integration.replica import Replica

OA_SECRET = "oa-secret-key-for-tests"
TELEGRAM_SECRET = "security-hook-secret_3"
MEDIA_CAP = 4096
# Known answer: the event below, signed with Zalo's published formula
#   mac = sha256(app_id + raw body + timestamp + OA secret key)
# computed by hand with coreutils, not by the code under test:
#   printf '%s' "4291763606161179100$(cat known_answer_event.json)1767225600000oa-secret-key-for-tests" | sha256sum
KNOWN_EVENT = (Path(__file__).parent.parent / "data" / "zalo" / "known_answer_event.json").read_bytes()
KNOWN_MAC = "23fecc34f2e3746438f5ac09fb4dde4bd4f1ed0d7cf18cdbdf4ea5f020d2b85a"
KNOWN_SENDER = "2468458835296190001"
# The valid mac of another body (same app, timestamp and secret), computed the same way:
#   {"app_id":"4291763606161179100","event_name":"user_send_text","timestamp":"1767225600000",
#    "sender":{"id":"2468458835296190001"},"message":{"msg_id":"known0answer0msg0000000000000002","text":"xin chào"}}
OTHER_BODY_MAC = "b8ae5ca3c090417b766c6e3f3a64dffb440afd03761e71b4007c77711add97ab"
DEEP = b'{"update_id": 1, "x": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"  # under every body cap
LONE_SURROGATE_TEXT = "\\ud800"  # as JSON writes it: one half of a surrogate pair, no text at all


@pytest.fixture(scope="module")
def zalo():
    with FakeZaloAPI() as api:
        store_tokens(*api.issue_tokens(), expires_in_s=90000)
        api.add_user(KNOWN_SENDER)
        yield api


@pytest.fixture(scope="module")
def replica(stack, zalo, telegram):
    settings = get_settings().model_copy(
        update={
            "zalo_app_id": zalo.app_id,
            "zalo_app_secret": zalo.app_secret,
            "zalo_oa_secret": OA_SECRET,
            "zalo_api_url": zalo.base_url,
            "zalo_oauth_url": zalo.base_url,
            "zalo_replay_window_hours": 24 * 365 * 10,  # the known-answer event has a fixed timestamp
            "zalo_media_hosts": "zdn.vn,127.0.0.1",  # the fake CDN is local; "localhost" plays another host
            "max_media_bytes": MEDIA_CAP,
            "telegram_token": telegram.token,
            "telegram_api_url": telegram.base_url,
            "telegram_file_url": telegram.base_file_url,
            "telegram_secret": TELEGRAM_SECRET,
            "telegram_webhook_url": "https://hotro.example.vn/webhooks/telegram",
        }
    )
    with Replica(settings) as running:
        yield running


def stored_events() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(ChannelEvent))


def zalo_post(
    replica: Replica, body: bytes, signature: str | None, content_type: str = "application/json"
) -> httpx.Response:
    headers = {"Content-Type": content_type}
    if signature is not None:
        headers["X-ZEvent-Signature"] = signature
    return httpx.post(replica.url + "/webhooks/zalo", content=body, headers=headers, timeout=30)


def signed_now(zalo: FakeZaloAPI, text_json: str) -> tuple[bytes, str]:
    """A fresh event whose text is `text_json` (already JSON-encoded), correctly signed."""
    timestamp = str(int(time.time() * 1000))
    body = (
        f'{{"app_id":"{zalo.app_id}","event_name":"user_send_text","timestamp":"{timestamp}",'
        f'"sender":{{"id":"{KNOWN_SENDER}"}},"message":{{"msg_id":"hostile{time.time_ns()}","text":{text_json}}}}}'
    ).encode()
    mac = hashlib.sha256(zalo.app_id.encode() + body + timestamp.encode() + OA_SECRET.encode()).hexdigest()
    return body, f"mac={mac}"


# -- Zalo signatures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "mac=",
        "mac=" + KNOWN_MAC[:-1] + ("0" if KNOWN_MAC[-1] != "0" else "1"),
        f"mac={OTHER_BODY_MAC}",
    ],
    ids=["no header", "empty header", "empty mac", "wrong mac", "mac of another body"],
)
def test_an_event_without_its_own_valid_signature_is_refused_and_stores_nothing(replica, signature):
    before = stored_events()
    response = zalo_post(replica, KNOWN_EVENT, signature)
    assert response.status_code == 401 and response.json() == {"error": "bad signature"}
    assert stored_events() == before


def test_the_known_answer_event_signed_by_zalos_formula_is_taken_in_and_answered(replica, zalo):
    # after the refusals above, so its msg_id is not yet known
    assert zalo_post(replica, KNOWN_EVENT, f"mac={KNOWN_MAC}").status_code == 200
    assert "căn cước" in zalo.wait_for_message(KNOWN_SENDER, timeout=30)["message"]["text"].lower()


# -- hostile JSON ------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
@pytest.mark.parametrize("hostile, status", [("deep", 422), ("lone surrogate", 422), ("bad utf-8", 400)])
def test_hostile_json_on_the_zalo_webhook_is_a_4xx_and_stores_nothing(replica, zalo, hostile, status, content_type):
    if hostile == "deep":
        body, signature = DEEP, "mac=" + "0" * 64
    elif hostile == "lone surrogate":  # signed as Zalo would: only the body is wrong
        body, signature = signed_now(zalo, f'"{LONE_SURROGATE_TEXT}"')
    else:
        body, signature = b'{"timestamp": "1767225600000", "message": {"text": "\xff"}}', "mac=" + "0" * 64
    before = stored_events()
    response = zalo_post(replica, body, signature, content_type)
    assert response.status_code == status and "error" in response.json()
    assert stored_events() == before


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
@pytest.mark.parametrize(
    "body, status",
    [
        (DEEP, 422),
        (b'{"update_id": 77, "message": {"text": "' + LONE_SURROGATE_TEXT.encode() + b'"}}', 422),
        (b'{"update_id": 78, "message": {"text": "\xff"}}', 400),
        (b"[1, 2]", 400),
    ],
    ids=["deep", "lone surrogate", "bad utf-8", "not an object"],
)
def test_hostile_json_on_the_telegram_webhook_is_a_4xx_and_stores_nothing(replica, body, status, content_type):
    before = stored_events()
    response = httpx.post(
        replica.url + "/webhooks/telegram",
        content=body,
        timeout=30,
        headers={"Content-Type": content_type, "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
    )
    assert response.status_code == status and "error" in response.json()
    assert stored_events() == before


# -- media -------------------------------------------------------------------------------------------


def fetch_zalo(replica: Replica, url: str) -> tuple[bytes, str]:
    return replica.run(replica.app.state.zalo.fetch_media(url))


def test_zalo_media_comes_from_a_listed_host_and_its_redirects_within_it(replica, zalo):
    url = zalo.add_file("receipt.jpg", b"\xff\xd8\xff\xe0" + b"\x01" * 64, "image/jpeg")
    assert fetch_zalo(replica, url) == (b"\xff\xd8\xff\xe0" + b"\x01" * 64, "image/jpeg")
    assert fetch_zalo(replica, zalo.add_redirect("moved.jpg", url))[0].startswith(b"\xff\xd8")


@pytest.mark.parametrize("where", ["another host", "a redirect to another host", "http on a real domain"])
def test_zalo_media_is_never_fetched_from_elsewhere(replica, zalo, where):
    url = zalo.add_file("id-card.jpg", b"\xff\xd8\xff\xe0secret", "image/jpeg")
    elsewhere = url.replace("127.0.0.1", "localhost")  # the same server under a name that is not listed
    target = {
        "another host": elsewhere,
        "a redirect to another host": zalo.add_redirect("away.jpg", elsewhere),
        "http on a real domain": "http://s120.zdn.vn/id-card.jpg",
    }[where]
    with pytest.raises(MediaUnavailable, match="not a trusted media host"):
        fetch_zalo(replica, target)


def test_zalo_media_stops_reading_past_the_cap(replica, zalo):
    size = 64 * 1024 * 1024
    url = zalo.add_stream("huge.jpg", size)  # chunked: no Content-Length to refuse it early
    with pytest.raises(MediaUnavailable, match="cap"):
        fetch_zalo(replica, url)
    assert zalo.streamed("huge.jpg") < size // 2  # the download was cut off, not read to the end


def test_telegram_files_over_the_cap_are_refused(replica, telegram):
    telegram.add_file("big-file", b"%PDF" + b"\x00" * (MEDIA_CAP * 2), "documents/file_9.pdf")
    telegram.add_file("small-file", b"%PDF" + b"\x00" * 16, "documents/file_10.pdf")
    fetch = replica.app.state.telegram.fetch_media
    assert replica.run(fetch("small-file")) == (b"%PDF" + b"\x00" * 16, "application/pdf")
    with pytest.raises(MediaUnavailable, match="cap"):
        replica.run(fetch("big-file"))
