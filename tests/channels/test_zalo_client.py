"""ZaloClient against the fake Zalo API and the session's migrated database."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bot.channels import zalo_api
from bot.channels.zalo_api import ZaloClient, ZaloSendError
from bot.messages import Button, split_text
from bot.storage.db import session_scope
from bot.storage.models import ZaloToken
from bot.storage.zalo_tokens import TokenRowLock, store_tokens
from tests.fakes.zalo_api import FakeZaloAPI

USER = "2468458835296197922"


@pytest.fixture
def fake(loaded_db):
    with FakeZaloAPI() as api:
        api.add_user(USER)
        store_tokens(*api.issue_tokens(), expires_in_s=90000)
        yield api


@pytest.fixture
def settings(loaded_db, fake):
    return loaded_db.model_copy(
        update={
            "zalo_app_id": fake.app_id,
            "zalo_app_secret": fake.app_secret,
            "zalo_api_url": fake.base_url,
            "zalo_oauth_url": fake.base_url,
        }
    )


def run(settings, scenario, **options):
    """`scenario(client)` on a new event loop in a thread of its own, with a client made for that loop."""

    async def main():
        client = ZaloClient(settings, retry_delay_s=0.001, **options)
        try:
            return await scenario(client)
        finally:
            await client.close()

    with ThreadPoolExecutor(1) as worker:
        return worker.submit(asyncio.run, main()).result(timeout=60)


def stored() -> ZaloToken:
    with session_scope() as session:
        return session.get(ZaloToken, 1)


def spend(fake: FakeZaloAPI, refresh_token: str) -> dict:
    """Uses `refresh_token` at the fake's OAuth endpoint directly."""
    return httpx.post(
        f"{fake.base_url}/v4/oa/access_token",
        headers={"secret_key": fake.app_secret},
        data={"refresh_token": refresh_token, "app_id": fake.app_id, "grant_type": "refresh_token"},
    ).json()


def test_a_text_is_sent(fake, settings):
    ids = run(settings, lambda client: client.send(USER, "Xin chào, tôi có thể giúp gì?"))
    delivered = fake.wait_for_message(USER)
    assert delivered["message"] == {"text": "Xin chào, tôi có thể giúp gì?"}
    assert ids == [delivered["message_id"]]
    assert fake.refresh_calls == 0


def test_buttons_are_a_template_of_hidden_queries(fake, settings):
    buttons = [Button("Làm căn cước", "k7Qz1"), Button("Gặp tình nguyện viên", "k7Qz2")]
    run(settings, lambda client: client.send(USER, "Bạn cần gì?", buttons))
    assert fake.wait_for_message(USER)["message"] == {
        "text": "Bạn cần gì?",
        "attachment": {
            "type": "template",
            "payload": {
                "buttons": [
                    {"title": "Làm căn cước", "type": "oa.query.hide", "payload": "k7Qz1"},
                    {"title": "Gặp tình nguyện viên", "type": "oa.query.hide", "payload": "k7Qz2"},
                ]
            },
        },
    }


def test_a_long_text_is_split_at_sentences_with_buttons_on_the_last_part(fake, settings):
    sentence = "Bước {}: mang giấy tờ tùy thân đến bộ phận một cửa của phường."
    text = " ".join(sentence.format(n) for n in range(1, 80))[:4500]  # ends mid-sentence
    assert len(text) == 4500 and not text[-1].isspace()

    ids = run(settings, lambda client: client.send(USER, text, [Button("Xong", "k1")]))
    parts = [m["message"] for m in fake.messages]
    assert len(ids) == len(parts) == 3 and ids == [m["message_id"] for m in fake.messages]
    assert all(len(part["text"]) <= 2000 for part in parts)
    assert all(part["text"].endswith(".") for part in parts[:-1])
    assert all(part["text"].startswith("Bước") for part in parts)
    assert " ".join(part["text"] for part in parts) == text
    assert ["attachment" in part for part in parts] == [False, False, True]


def test_split_prefers_lines_to_sentences_and_never_exceeds_the_limit():
    assert split_text("Một. Hai.\nBa bốn năm.", limit=12) == ["Một. Hai.", "Ba bốn năm."]
    assert split_text("Một hai. Ba bốn năm sáu", limit=12) == ["Một hai.", "Ba bốn năm", "sáu"]
    assert split_text("x" * 25, limit=10) == ["x" * 10, "x" * 10, "x" * 5]


def test_an_expired_token_is_refreshed_once_then_the_message_sent(fake, settings):
    before = stored()
    fake.expire_access_token()

    run(settings, lambda client: client.send(USER, "Xin chào"))

    assert fake.wait_for_message(USER)["message"] == {"text": "Xin chào"}
    assert (fake.refresh_calls, fake.message_calls) == (1, 2)
    after = stored()
    assert (after.access_token, after.refresh_token) != (before.access_token, before.refresh_token)
    assert fake.access_token_valid(after.access_token)


def test_the_rotated_refresh_token_is_stored_and_the_old_one_is_dead(fake, settings):
    old_access, old_refresh = fake.issue_tokens()
    store_tokens(old_access, old_refresh, expires_in_s=60)  # expires within the margin: refreshed proactively

    token = run(settings, lambda client: client.access_token())

    row = stored()
    assert token == row.access_token != old_access and row.refresh_token != old_refresh
    assert spend(fake, old_refresh)["error"] == -14014
    assert run(settings, lambda client: client.refresh(rejected=token)) == stored().access_token != token
    assert fake.refresh_calls == 3  # ours, the rejected replay, the second link of the chain


def test_concurrent_refreshes_in_tasks_and_in_two_threads_make_one_oauth_call(fake, settings, monkeypatch):
    store_tokens(*fake.issue_tokens(), expires_in_s=60)  # every caller will want a refresh
    tasks, loops = 3, 2
    entered = threading.Condition()
    count = [0]
    acquire = TokenRowLock.acquire

    def counted_acquire(self):
        with entered:
            count[0] += 1
            entered.notify_all()
        return acquire(self)

    monkeypatch.setattr(TokenRowLock, "acquire", counted_acquire)

    async def scenario(client):
        return await asyncio.gather(*(client.access_token() for _ in range(tasks)))

    fake.hold_refreshes()  # the first refresh stays in flight until every caller is at the lock
    try:
        with ThreadPoolExecutor(loops) as pool:
            futures = [pool.submit(run, settings, scenario) for _ in range(loops)]
            fake.wait_for(lambda api: api.refresh_calls >= 1)
            with entered:
                assert entered.wait_for(lambda: count[0] == tasks * loops, timeout=10)
            fake.release_refreshes()
            tokens = {token for future in futures for token in future.result(timeout=60)}
    finally:
        fake.release_refreshes()

    assert fake.refresh_calls == 1
    assert tokens == {stored().access_token}
    assert fake.access_token_valid(tokens.pop())


def test_a_rate_limit_is_retried_then_the_message_sent(fake, settings):
    fake.fail_next(-32, times=2)
    ids = run(settings, lambda client: client.send(USER, "Xin chào"))
    assert ids == [fake.wait_for_message(USER)["message_id"]]
    assert fake.message_calls == 3


def test_a_lasting_rate_limit_is_raised_after_the_retries(fake, settings):
    fake.fail_next(-32, times=10)
    with pytest.raises(ZaloSendError) as raised:
        run(settings, lambda client: client.send(USER, "Xin chào"), rate_limit_retries=2)
    assert (raised.value.kind, raised.value.code) == ("rate_limited", -32)
    assert fake.message_calls == 3 and fake.messages == []


def test_a_closed_window_is_raised_without_retry(fake, settings):
    fake.add_user(USER, dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=8))
    with pytest.raises(ZaloSendError) as raised:
        run(settings, lambda client: client.send(USER, "Xin chào"))
    assert (raised.value.kind, raised.value.code) == ("window_closed", -230)
    assert "7 days" in raised.value.description
    assert (fake.message_calls, fake.refresh_calls) == (1, 0)


@pytest.mark.parametrize("user_id, injected, code", [("1111", None, -201), (USER, -244, -244), (USER, -227, -227)])
def test_permanent_errors_are_raised_without_retry(fake, settings, user_id, injected, code):
    if injected:
        fake.fail_next(injected)
    with pytest.raises(ZaloSendError) as raised:
        run(settings, lambda client: client.send(user_id, "Xin chào"))
    assert (raised.value.kind, raised.value.code) == ("permanent", code)
    assert (fake.message_calls, fake.refresh_calls) == (1, 0)


def test_a_token_still_refused_after_one_refresh_is_raised(fake, settings):
    fake.access_token_lifetime_s = 0  # every new token is born expired
    fake.expire_access_token()
    with pytest.raises(ZaloSendError) as raised:
        run(settings, lambda client: client.send(USER, "Xin chào"))
    assert (raised.value.kind, raised.value.code) == ("token_expired", -216)
    assert (fake.refresh_calls, fake.message_calls) == (1, 2)


def test_a_refused_refresh_asks_for_a_new_authorisation(fake, settings):
    spend(fake, stored().refresh_token)  # e.g. an older deployment used it
    fake.expire_access_token()
    with pytest.raises(ZaloSendError) as raised:
        run(settings, lambda client: client.send(USER, "Xin chào"))
    assert (raised.value.kind, raised.value.code) == ("token_expired", -14014)
    assert "authorise" in raised.value.description


def test_gateway_errors_are_retried_a_bounded_number_of_times(fake, settings):
    fake.break_next(times=2, status=502)
    run(settings, lambda client: client.send(USER, "Xin chào"))
    assert fake.message_calls == 3 and len(fake.messages) == 1

    fake.break_next(times=5, status=503)
    with pytest.raises(httpx.HTTPStatusError):
        run(settings, lambda client: client.send(USER, "Lần nữa"), network_retries=1)
    assert fake.message_calls == 5 and len(fake.messages) == 1


def test_authorize_command_exchanges_the_new_refresh_token_at_once(fake, settings, monkeypatch, capsys):
    monkeypatch.setattr("bot.settings.get_settings", lambda: settings)
    _, fresh_refresh = fake.issue_tokens()

    def authorize(refresh_token: str) -> int:  # a command runs its own event loop: a thread of its own
        with ThreadPoolExecutor(1) as worker:
            return worker.submit(zalo_api.authorize_command, refresh_token).result(timeout=60)

    assert authorize(fresh_refresh) == 0
    assert fake.access_token_valid(stored().access_token) and stored().refresh_token != fresh_refresh
    assert authorize(fresh_refresh) == 1  # spent: reported now, not at the next send
    assert "refused" in capsys.readouterr().err
