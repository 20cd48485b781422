"""The fake Zalo API's contract, over raw HTTP: HTTP 200 error envelopes, header checks, single-use refresh tokens."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from tests.fakes.zalo_api import FakeZaloAPI

USER = "2468458835296197922"


@pytest.fixture
def fake():
    with FakeZaloAPI() as api:
        api.add_user(USER)
        yield api


def send(fake: FakeZaloAPI, token: str | None, body: dict) -> httpx.Response:
    headers = {"access_token": token} if token else {}
    return httpx.post(f"{fake.base_url}/v3.0/oa/message/cs", json=body, headers=headers)


def text_to(user_id: str, text: str, **message) -> dict:
    return {"recipient": {"user_id": user_id}, "message": {"text": text, **message}}


def refresh(fake: FakeZaloAPI, refresh_token: str, secret: str | None = None, app_id: str | None = None):
    return httpx.post(
        f"{fake.base_url}/v4/oa/access_token",
        headers={"secret_key": fake.app_secret if secret is None else secret},
        data={"refresh_token": refresh_token, "app_id": app_id or fake.app_id, "grant_type": "refresh_token"},
    )


def test_a_text_is_delivered_with_a_message_id(fake):
    access, _ = fake.issue_tokens()
    response = send(fake, access, text_to(USER, "Xin chào"))
    assert response.status_code == 200
    body = response.json()
    assert (body["error"], body["message"]) == (0, "Success")
    delivered = fake.wait_for_message(USER)
    assert delivered["message"] == {"text": "Xin chào"}
    assert delivered["message_id"] == body["data"]["message_id"]


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_a_missing_or_unknown_token_is_refused_with_http_200(fake, token):
    response = send(fake, token, text_to(USER, "Xin chào"))
    assert response.status_code == 200
    assert response.json()["error"] == -216
    assert fake.messages == [] and fake.message_calls == 1


def test_an_expired_access_token_is_refused(fake):
    access, _ = fake.issue_tokens()
    fake.expire_access_token()
    assert send(fake, access, text_to(USER, "Xin chào")).json()["error"] == -216


@pytest.mark.parametrize(
    "body",
    [
        text_to(USER, ""),
        text_to(USER, "x" * 2001),
        text_to("123", "unknown user"),
        {"recipient": {}, "message": {"text": "no user"}},
        text_to(
            USER,
            "six buttons",
            attachment={
                "type": "template",
                "payload": {
                    "buttons": [{"title": f"B{i}", "type": "oa.query.hide", "payload": f"k{i}"} for i in range(6)]
                },
            },
        ),
        text_to(
            USER,
            "bad type",
            attachment={
                "type": "template",
                "payload": {"buttons": [{"title": "B", "type": "oa.query.nope", "payload": "k"}]},
            },
        ),
        text_to(
            USER,
            "long title",
            attachment={
                "type": "template",
                "payload": {"buttons": [{"title": "t" * 101, "type": "oa.query.hide", "payload": "k"}]},
            },
        ),
    ],
)
def test_invalid_messages_get_error_201(fake, body):
    access, _ = fake.issue_tokens()
    response = send(fake, access, body)
    assert response.status_code == 200
    assert response.json()["error"] == -201
    assert fake.messages == []


def test_buttons_ride_on_the_text(fake):
    access, _ = fake.issue_tokens()
    attachment = {
        "type": "template",
        "payload": {
            "buttons": [
                {"title": "Có", "type": "oa.query.hide", "payload": "k1"},
                {"title": "Cổng dịch vụ công", "type": "oa.open.url", "payload": {"url": "https://dichvucong.gov.vn"}},
            ]
        },
    }
    assert send(fake, access, text_to(USER, "Bạn cần gì?", attachment=attachment)).json()["error"] == 0
    assert fake.wait_for_message(USER)["message"]["attachment"] == attachment


def test_a_citizen_silent_for_more_than_7_days_is_out_of_the_window(fake):
    access, _ = fake.issue_tokens()
    fake.add_user(USER, dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=7, minutes=1))
    body = send(fake, access, text_to(USER, "Xin chào")).json()
    assert body["error"] == -230 and "7 days" in body["message"]
    fake.add_user(USER, dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=6))
    assert send(fake, access, text_to(USER, "Xin chào")).json()["error"] == 0


def test_injected_failures_then_success(fake):
    access, _ = fake.issue_tokens()
    fake.fail_next(-32, times=2)
    assert [send(fake, access, text_to(USER, "a")).json()["error"] for _ in range(3)] == [-32, -32, 0]
    fake.break_next(status=502)
    response = send(fake, access, text_to(USER, "b"))
    assert response.status_code == 502
    assert send(fake, access, text_to(USER, "b")).json()["error"] == 0


def test_a_refresh_token_works_once_and_rotates(fake):
    old_access, old_refresh = fake.issue_tokens()
    response = refresh(fake, old_refresh)
    assert response.status_code == 200
    pair = response.json()
    assert pair["expires_in"] == "90000"  # a string, as Zalo sends it
    assert {pair["access_token"], pair["refresh_token"]}.isdisjoint({old_access, old_refresh})
    assert send(fake, pair["access_token"], text_to(USER, "new token")).json()["error"] == 0

    again = refresh(fake, old_refresh)
    assert again.status_code == 200
    assert again.json()["error"] == -14014 and "access_token" not in again.json()
    assert refresh(fake, pair["refresh_token"]).json()["access_token"]
    assert fake.refresh_calls == 3


@pytest.mark.parametrize("secret, app_id", [("wrong-secret", None), ("", None), (None, "42")])
def test_the_refresh_checks_the_app_secret_and_id(fake, secret, app_id):
    _, refresh_token = fake.issue_tokens()
    body = refresh(fake, refresh_token, secret=secret, app_id=app_id).json()
    assert body["error"] < 0 and "access_token" not in body
    assert refresh(fake, refresh_token).json()["access_token"]  # a refused request does not spend the token


def test_access_tokens_expire_after_their_lifetime():
    with FakeZaloAPI(access_token_lifetime_s=0) as fake:
        fake.add_user(USER)
        access, refresh_token = fake.issue_tokens()
        assert send(fake, access, text_to(USER, "x")).json()["error"] == -216
        assert refresh(fake, refresh_token).json()["expires_in"] == "0"


def test_cdn_links_serve_files_redirects_and_streams(fake):
    url = fake.add_file("a.jpg", b"\xff\xd8jpeg", "image/jpeg")
    assert httpx.get(url).content == b"\xff\xd8jpeg"
    moved = httpx.get(fake.add_redirect("b.jpg", url))
    assert moved.status_code == 302 and moved.headers["location"] == url
    streamed = httpx.get(fake.add_stream("c.jpg", 200_000))
    assert "content-length" not in streamed.headers and len(streamed.content) == 200_000
    assert fake.streamed("c.jpg") == 200_000
