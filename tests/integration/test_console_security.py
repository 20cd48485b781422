"""The volunteer console against a hostile citizen and an ended session, on a real gateway: files a
citizen sends never run as the volunteer, an event stream ends with its session, and bad ids or
months are refused, not 500s."""

from __future__ import annotations

import argparse
from urllib.parse import unquote

import httpx
import pytest

from bot.console.accounts import accounts_command
from bot.events import HandoffChanged
from bot.settings import get_settings
from tests.integration.console_media_files import FILES, telegram_settings, waiting_request_with_files
from tests.integration.people import Console
from tests.integration.replica import EventStream, Replica

MEDIA_GUARDS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; sandbox",
    "cache-control": "private, no-store",
}
STREAM_ENDS_WITHIN_S = 15  # the heartbeat (5 s) re-checks the session, with room for a slow machine


@pytest.fixture(scope="module")
def replica(loaded_db, telegram):
    with Replica(telegram_settings(telegram)) as running:
        yield running


# -- files a citizen sends -------------------------------------------------------------------------


@pytest.mark.parametrize("file", FILES, ids=[f.name for f in FILES])
def test_only_sniffed_images_are_shown_inline_everything_else_is_a_sandboxed_download(replica, telegram, file):
    _, urls = waiting_request_with_files(telegram)
    opened = Console(replica.url, "Lan", online=False).http.get(urls[file.name])
    assert opened.status_code == 200 and opened.content == file.content
    disposition = opened.headers["content-disposition"]
    if file.inline_type:  # typed from the bytes, whatever the name says
        assert opened.headers["content-type"] == file.inline_type and disposition == "inline"
    else:
        assert opened.headers["content-type"] == "application/octet-stream"
        kind, ascii_name, utf8_name = (part.strip() for part in disposition.split(";"))
        message_id = urls[file.name].split("/")[-2]
        extension = file.name.rsplit(".", 1)[1]
        assert kind == "attachment" and ascii_name == f'filename="tep-{message_id}.{extension}"'
        assert utf8_name.startswith("filename*=UTF-8''") and unquote(utf8_name[17:]) == f"tệp-{message_id}.{extension}"
    assert {name: opened.headers.get(name) for name in MEDIA_GUARDS} == MEDIA_GUARDS


# -- the event stream ends with its session ----------------------------------------------------------


def _emit_handoff_event(replica: Replica, handoff_id: int) -> None:
    """A queue change for the open consoles only, as if it came from another replica (no side effects)."""
    event = HandoffChanged("queued", handoff_id, 0, "web", "nobody", "nobody", "citizen_request")
    replica.run(replica.app.state.handoffs.bus.emit_remote(event))


def _ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


def _stream_ends(stream: EventStream) -> bool:
    stream.join(STREAM_ENDS_WITHIN_S)
    return not stream.is_alive()


def _delivered_only_before_the_end(replica: Replica, stream: EventStream, end_session) -> None:
    """An event reaches the open stream; the session ends; an event right after is not delivered
    and the response completes."""
    _emit_handoff_event(replica, 910001)
    stream.wait_for(lambda d: d["handoff_id"] == 910001, name="handoff")
    end_session()
    _emit_handoff_event(replica, 910002)
    assert _stream_ends(stream), "the event stream stayed open after its session ended"
    assert [e.data["handoff_id"] for e in stream.events] == [910001]


def test_logout_from_another_request_ends_the_event_stream(replica):
    lan = Console(replica.url, "Lan", online=False)
    stream = lan.stream()
    other_tab = httpx.Client(base_url=replica.url, cookies=lan.http.cookies, timeout=30)
    _delivered_only_before_the_end(
        replica, stream, lambda: _ok(other_tab.post("/console/api/logout", headers={"X-CSRF-Token": lan.csrf}))
    )
    assert lan.http.get("/console/api/events").status_code == 401  # and it cannot be reopened


def test_disabling_the_account_ends_its_event_stream(replica):
    lan = Console(replica.url, "Lan", online=False)
    stream = lan.stream()
    disable = argparse.Namespace(command="disable", username=lan.username)
    _delivered_only_before_the_end(replica, stream, lambda: accounts_command(disable))


def test_session_expiry_ends_the_event_stream_without_any_request(loaded_db, telegram):
    hours = 0.001  # 3.6 s
    with Replica(get_settings().model_copy(update={"console_session_hours": hours})) as short_lived:
        lan = Console(short_lived.url, "Lan", online=False)
        stream = lan.stream()
        _emit_handoff_event(short_lived, 910003)
        stream.wait_for(lambda d: d["handoff_id"] == 910003, name="handoff")
        assert _stream_ends(stream), "the event stream outlived its session"


# -- bad input gets 4xx, never 5xx ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "/console/api/handoffs/99999999999999999999999", None),
        ("GET", "/console/api/handoffs/9223372036854775808", None),
        ("GET", "/console/api/handoffs/0", None),
        ("GET", "/console/api/handoffs/-1", None),
        ("GET", "/console/api/messages/99999999999999999999999/media", None),
        ("GET", "/console/api/messages/2147483648/media", None),
        ("POST", "/console/api/handoffs/99999999999999999999999/claim", {}),
        ("POST", "/console/api/handoffs/{held}/transfer", {"volunteer_id": 99999999999999999999999}),
        ("POST", "/console/api/handoffs/{held}/transfer", {"volunteer_id": 2147483648}),
        ("POST", "/console/api/handoffs/{held}/hand-back", {"step": 99999999999999999999999}),
        ("POST", "/console/api/handoffs/{held}/close", {"outcome": "x" * 10_000}),
        ("GET", "/console/report?month=2024-13", None),
        ("GET", "/console/report?month=0000-01", None),
        ("GET", "/console/api/report.csv?month=9999-12", None),
    ],
)
def test_bad_ids_and_months_are_refused_not_500(replica, telegram, method, path, body):
    admin = Console(replica.url, "Quan", role="admin", online=False)
    held, _ = waiting_request_with_files(telegram)
    assert admin.post(f"/console/api/handoffs/{held}/claim").status_code == 200
    answer = admin.http.request(method, path.format(held=held), json=body, headers={"X-CSRF-Token": admin.csrf})
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)


def test_bad_json_to_a_console_route_is_refused_not_500(replica):
    admin = Console(replica.url, "Quan", role="admin", online=False)
    for raw in (b"{", b'{"text": "\\ud800"}', b"[" * 100 + b"]" * 100, b"\xff\xfe"):
        answer = admin.http.post(
            "/console/api/handoffs/1/notes",
            content=raw,
            headers={"X-CSRF-Token": admin.csrf, "Content-Type": "application/json"},
        )
        assert 400 <= answer.status_code < 500, (raw, answer.status_code, answer.text)
