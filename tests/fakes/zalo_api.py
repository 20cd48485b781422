"""A local HTTP server that answers like Zalo's Official Account Open API v3 and its OAuth server, for tests.

One server plays both hosts: point ``zalo_api_url`` and ``zalo_oauth_url`` at ``base_url``. The contract and its
sources are described in bot/channels/zalo_api.py; like Zalo, every answer of a known endpoint is HTTP 200, errors
included.

Implemented:

* ``POST /v3.0/oa/message/cs`` (consultation message). Header ``access_token``: missing, unknown or expired gives
  -216. Then injected failures (``fail_next``). Then the JSON body: ``recipient.user_id`` of a user added with
  ``add_user`` (else -201), ``message.text`` of 1-2,000 characters (else -201), optionally
  ``message.attachment = {"type": "template", "payload": {"buttons": [...]}}`` with 1-5 buttons of type
  oa.query.hide / oa.query.show (string payload of 1-1,000 characters) or oa.open.url (``{"url"}``), titles of
  1-100 characters (else -201). A user whose last interaction is more than 7 days old gets -230. Success answers
  ``{"error": 0, "message": "Success", "data": {"message_id": ...}}``.
* ``POST /v4/oa/access_token`` with ``grant_type=refresh_token``: header ``secret_key`` must be the app's secret and
  form field ``app_id`` the app's id. Each refresh token works once: using it issues a new access token AND a new
  refresh token and spends it; reusing a spent or unknown one is refused. Answers
  ``{"access_token", "refresh_token", "expires_in": "<seconds>"}`` (a string, as Zalo sends it) or
  ``{"error": <-14xxx>, "error_name", "error_description"}``. Zalo's individual OAuth codes are not published in a
  form we could verify: the codes here are placeholders in Zalo's -14xxx range.

* ``GET /cdn/<name>``: the CDN links of media events: files (``add_file``), a 302 to elsewhere (``add_redirect``)
  and large chunked bodies without Content-Length (``add_stream``).

Not implemented: the authorization-code grant, other message types (media, lists, files, templates with a
template_type), quotas, message ids of replies, and any other endpoint (404).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

MAX_TEXT = 2000
MAX_BUTTONS = 5
WINDOW = dt.timedelta(days=7)
_MESSAGES = {
    -32: "Your application reached limit call api",
    -201: "Parameter is invalid",
    -211: "Out of quota",
    -216: "Access token is invalid",
    -230: "User has not interacted with the OA in the past 7 days",
}
_INVALID_REFRESH = (-14014, "Invalid refresh token")
_INVALID_APP = (-14002, "Invalid app_id or secret_key")
_INVALID_GRANT = (-14003, "Invalid parameter")


class _ZaloError(Exception):
    def __init__(self, code: int, message: str | None = None):
        super().__init__(message)
        self.body = {"error": code, "message": message or _MESSAGES.get(code, "Error")}


def _invalid(field: str) -> _ZaloError:
    return _ZaloError(-201, f"{field} is invalid")


def _check_buttons(attachment: Any) -> None:
    if not isinstance(attachment, dict) or attachment.get("type") != "template":
        raise _invalid("message.attachment.type")
    payload = attachment.get("payload")
    if not isinstance(payload, dict) or "template_type" in payload:
        raise _invalid("message.attachment.payload")  # only text + buttons is implemented
    buttons = payload.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        raise _invalid("message.attachment.payload.buttons")
    for button in buttons:
        title = button.get("title") if isinstance(button, dict) else None
        if not isinstance(title, str) or not 1 <= len(title) <= 100:
            raise _invalid("button.title")
        kind, value = button.get("type"), button.get("payload")
        if kind in ("oa.query.hide", "oa.query.show"):
            if not isinstance(value, str) or not 1 <= len(value) <= 1000:
                raise _invalid("button.payload")
        elif kind == "oa.open.url":
            if not isinstance(value, dict) or not str(value.get("url", "")).startswith(("http://", "https://")):
                raise _invalid("button.payload.url")
        else:
            raise _invalid("button.type")


def _check_message(body: Any) -> tuple[str, dict]:
    recipient = body.get("recipient") if isinstance(body, dict) else None
    user_id = recipient.get("user_id") if isinstance(recipient, dict) else None
    if not isinstance(user_id, str) or not user_id:
        raise _invalid("recipient.user_id")
    message = body.get("message")
    if not isinstance(message, dict):
        raise _invalid("message")
    text = message.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise _invalid("message.text")
    if "attachment" in message:
        _check_buttons(message["attachment"])
    return user_id, message


class FakeZaloAPI:
    def __init__(
        self,
        app_id: str = "4291763606161179100",
        app_secret: str = "fake-app-secret",
        access_token_lifetime_s: float = 90000,
    ):
        self.app_id, self.app_secret = app_id, app_secret
        self.access_token_lifetime_s = access_token_lifetime_s
        # Shared by the server thread and the test; the condition guards it and is notified on every change.
        self._lock = threading.Condition()
        self._users: dict[str, dt.datetime] = {}  # user id -> last interaction
        self._access_tokens: dict[str, float] = {}  # token -> time.time() it expires at
        self._refresh_tokens: set[str] = set()  # unspent
        self._failures: list[int] = []  # Zalo error codes for the next messages
        self._broken: list[int] = []  # HTTP statuses for the next messages
        self._messages: list[dict] = []
        self._files: dict[str, tuple[bytes, str]] = {}  # CDN name -> (content, content type)
        self._redirects: dict[str, str] = {}  # CDN name -> where it redirects
        self._streams: dict[str, tuple[int, str]] = {}  # CDN name -> (size, content type), served chunked
        self._streamed: dict[str, int] = {}  # CDN name -> bytes written so far
        self._message_calls = 0
        self._refresh_calls = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._refresh_gate: asyncio.Event | None = None  # on the server loop; cleared while refreshes are held

    # -- Lifecycle

    def start(self) -> FakeZaloAPI:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-zalo-api", daemon=True)
        self._thread.start()
        self._port = self._on_loop(self._open())
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._on_loop(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
        self._thread = None

    def __enter__(self) -> FakeZaloAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _on_loop(self, coro) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    async def _open(self) -> int:
        self._refresh_gate = asyncio.Event()
        self._refresh_gate.set()
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self._send_cs)
        app.router.add_post("/v4/oa/access_token", self._access_token)
        app.router.add_get("/cdn/{name}", self._cdn)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return self._runner.addresses[0][1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # -- World set-up and driving

    def add_file(self, name: str, content: bytes, content_type: str) -> str:
        """A photo or file a user sent; returns its CDN link, as the webhook event carries it."""
        with self._lock:
            self._files[name] = (content, content_type)
        return f"{self.base_url}/cdn/{name}"

    def add_redirect(self, name: str, location: str) -> str:
        """A CDN link that answers 302 to `location` (a CDN would redirect to another of its hosts)."""
        with self._lock:
            self._redirects[name] = location
        return f"{self.base_url}/cdn/{name}"

    def add_stream(self, name: str, size: int, content_type: str = "image/jpeg") -> str:
        """A CDN link serving `size` bytes chunked, with no Content-Length; `streamed(name)` tells
        how many the server got to write before the client stopped reading."""
        with self._lock:
            self._streams[name] = (size, content_type)
            self._streamed[name] = 0
        return f"{self.base_url}/cdn/{name}"

    def streamed(self, name: str) -> int:
        with self._lock:
            return self._streamed[name]

    def add_user(self, user_id: str, last_interaction: dt.datetime | None = None) -> None:
        """A citizen the OA knows; `last_interaction` (default now) opens the 7-day window. Call again to move it."""
        with self._lock:
            self._users[user_id] = last_interaction or dt.datetime.now(dt.timezone.utc)

    def issue_tokens(self) -> tuple[str, str]:
        """A new (access token, refresh token) pair, as an admin's authorisation of the app would give."""
        with self._lock:
            return self._issue()

    def expire_access_token(self, token: str | None = None) -> None:
        """Expires `token`, or every access token issued so far."""
        with self._lock:
            for key in [token] if token else list(self._access_tokens):
                self._access_tokens[key] = time.time() - 1

    def fail_next(self, code: int = -32, times: int = 1) -> None:
        """The next `times` valid-token messages get Zalo error `code` (default -32, the call-rate limit)."""
        with self._lock:
            self._failures.extend([code] * times)

    def break_next(self, times: int = 1, status: int = 502) -> None:
        """The next `times` messages get HTTP `status` with an HTML page, like a failing gateway."""
        with self._lock:
            self._broken.extend([status] * times)

    def hold_refreshes(self) -> None:
        """Token refreshes are counted but not answered until `release_refreshes`."""
        self._on_loop(self._set_gate(False))

    def release_refreshes(self) -> None:
        self._on_loop(self._set_gate(True))

    async def _set_gate(self, open_: bool) -> None:
        if open_:
            self._refresh_gate.set()
        else:
            self._refresh_gate.clear()

    # -- Inspection

    @property
    def messages(self) -> list[dict]:
        """Delivered messages: {"user_id", "message", "message_id"}, in order."""
        with self._lock:
            return [dict(m) for m in self._messages]

    @property
    def message_calls(self) -> int:
        """Requests to the message endpoint, whatever their answer."""
        with self._lock:
            return self._message_calls

    @property
    def refresh_calls(self) -> int:
        """Requests to the OAuth endpoint, whatever their answer."""
        with self._lock:
            return self._refresh_calls

    def access_token_valid(self, token: str) -> bool:
        with self._lock:
            return self._access_tokens.get(token, 0) > time.time()

    def wait_for(self, condition: Callable[[FakeZaloAPI], bool], timeout: float = 10) -> None:
        """Waits until `condition(self)` holds (re-checked whenever a request is recorded)."""
        with self._lock:
            if not self._lock.wait_for(lambda: condition(self), timeout):
                raise TimeoutError(f"condition not met within {timeout} s")

    def wait_for_message(
        self, user_id: str, predicate: Callable[[dict], bool] | None = None, timeout: float = 10
    ) -> dict:
        """The first delivered message to `user_id` (whose "message" satisfies `predicate`), waiting if need be."""

        def find() -> dict | None:
            return next(
                (
                    m
                    for m in self._messages
                    if m["user_id"] == user_id and (predicate is None or predicate(m["message"]))
                ),
                None,
            )

        with self._lock:
            found = self._lock.wait_for(find, timeout)
            if found is None:
                raise TimeoutError(f"no matching message to {user_id} within {timeout} s")
            return dict(found)

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        with self._lock:
            found, redirect, stream = self._files.get(name), self._redirects.get(name), self._streams.get(name)
        if redirect is not None:
            raise web.HTTPFound(redirect)
        if stream is not None:
            return await self._stream(request, name, *stream)
        if found is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=found[0], content_type=found[1])

    async def _stream(self, request: web.Request, name: str, size: int, content_type: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"\0" * 65536
        try:
            for start in range(0, size, len(chunk)):
                await response.write(chunk[: size - start])
                with self._lock:
                    self._streamed[name] += min(len(chunk), size - start)
            await response.write_eof()
        except ConnectionError:  # the client stopped reading
            pass
        return response

    # -- Handlers

    def _issue(self) -> tuple[str, str]:
        access, refresh = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
        self._access_tokens[access] = time.time() + self.access_token_lifetime_s
        self._refresh_tokens.add(refresh)
        return access, refresh

    async def _send_cs(self, request: web.Request) -> web.Response:
        raw = await request.read()
        with self._lock:
            self._message_calls += 1
            self._lock.notify_all()
            if self._broken:
                return web.Response(
                    status=self._broken.pop(0), text="<html>Bad Gateway</html>", content_type="text/html"
                )
            try:
                if self._access_tokens.get(request.headers.get("access_token", ""), 0) <= time.time():
                    raise _ZaloError(-216)
                if self._failures:
                    raise _ZaloError(self._failures.pop(0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise _invalid("body") from None
                user_id, message = _check_message(body)
                if user_id not in self._users:
                    raise _invalid("user_id")
                if dt.datetime.now(dt.timezone.utc) - self._users[user_id] > WINDOW:
                    raise _ZaloError(-230)
                message_id = secrets.token_hex(10)
                self._messages.append({"user_id": user_id, "message": message, "message_id": message_id})
                answer = {"error": 0, "message": "Success", "data": {"message_id": message_id}}
            except _ZaloError as error:
                answer = error.body
            self._lock.notify_all()
        return web.json_response(answer)

    async def _access_token(self, request: web.Request) -> web.Response:
        with self._lock:
            self._refresh_calls += 1
            self._lock.notify_all()
        await self._refresh_gate.wait()
        form = await request.post()
        with self._lock:
            if request.headers.get("secret_key") != self.app_secret or form.get("app_id") != self.app_id:
                error = _INVALID_APP
            elif form.get("grant_type") != "refresh_token":
                error = _INVALID_GRANT
            elif form.get("refresh_token") not in self._refresh_tokens:
                error = _INVALID_REFRESH
            else:
                self._refresh_tokens.remove(form["refresh_token"])  # single use
                access, refresh = self._issue()
                self._lock.notify_all()
                return web.json_response(
                    {
                        "access_token": access,
                        "refresh_token": refresh,
                        "expires_in": str(int(self.access_token_lifetime_s)),
                    }
                )
        return web.json_response(
            {"error": error[0], "error_name": error[1], "error_description": f"{error[1]} (fake Zalo OAuth server)"}
        )
