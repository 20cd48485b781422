"""Client of the Zalo Official Account Open API v3: consultation messages and the OA's OAuth token pair.

Contract (public sources; nothing copied):

* [JAVA] zaloplatform/zalo-java-sdk, Zalo's own SDK: ``POST {api}/v3.0/oa/message/cs`` with header
  ``access_token`` and JSON ``{"recipient": {"user_id"}, "message": {"text"}}``
  (src/test/java/v3/SendTextCSMessage.java); ``POST {oauth}/v4/oa/access_token`` with header ``secret_key``
  (the app's secret) and form fields ``refresh_token``, ``app_id``, ``grant_type=refresh_token``
  (src/test/java/GetAccessTokenByRefreshToken.java).
* [PHP] zaloplatform/zalo-php-sdk, Zalo's own SDK: buttons ride on a text message as
  ``message.attachment = {"type": "template", "payload": {"buttons": [{"title", "type", "payload"}]}}``, type
  ``oa.query.hide`` taking a string payload, at most 5 buttons (src/Builder/MessageBuilder.php, README.md);
  answers are ``{"error": <int>, "message": ...}`` and the OA error family is -201…-219
  (src/Exceptions/ZaloResponseException.php).
* [NOTES] hoangnd25/monorepo wip/zalo-platform-integration.md, third-party notes that mirror developers.zalo.me:
  HTTP 200 with ``{"error": 0, "message": "Success", "data": {"message_id"}}``; the refresh answers
  ``{"access_token", "refresh_token", "expires_in": "90000"}`` (a string) and each refresh token works once;
  the meanings of the codes below.
* [HELP] subiz/subiz.com docs "Xử lý lỗi trên Zalo OA" and khoicodedao/Poto_platform docs/FIX_ERROR_230.md:
  sending to a citizen silent for 7 days answers -230 "User has not interacted with the OA in the past 7 days".
* [LIMITS] eSMS developer docs (devesms/gitbook_esms_for_develop_v2): a consultation text has at most 2,000
  characters; @warriorteam/redai-zalo-sdk docs/BUTTON_TYPES_GUIDE.md: button title ≤ 100, query payload ≤ 1,000.

How error codes map to ``ZaloSendError.kind``:

===============  ======================================================  ==========================================
kind             codes                                                   source
===============  ======================================================  ==========================================
token_expired    -216 access token invalid                               [PHP] lists it, [NOTES] names it
                 -220 access token expired or removed                    [NOTES] only
                 -124 invalid access token                               inferred (the older Graph API's 124)
rate_limited     -32 app reached its API call limit                      [NOTES] only
                 -211 out of quota                                       [PHP] + [NOTES]; waiting helping: inferred
window_closed    -230 no interaction in the past 7 days                  [HELP], [NOTES]
                 -232 no interaction yet, or it expired                  [NOTES] only
                 -213 citizen does not follow the OA                     [PHP] + [NOTES]; inferred that a new
                 -218 citizen's receiving quota reached                  message from the citizen clears it
permanent        anything else, e.g. -201 invalid parameter, -210 over   [PHP] + [NOTES]
                 a limit, -227 account banned/inactive, -244 citizen
                 restricted this message type, -219 app disabled
===============  ======================================================  ==========================================

A refused token refresh (the OAuth server's -14xxx codes, not individually verified) raises kind
"token_expired": the OA must be authorised again (``python -m bot zalo authorize``). For messages, network failures, HTTP 5xx and
429 are retried a few times with backoff, then the ``httpx.HTTPError`` propagates; the token refresh is tried once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bot.messages import Button, split_text
from bot.settings import Settings
from bot.storage.models import as_utc, utcnow
from bot.storage.zalo_tokens import TokenRowLock, ZaloTokens, read_tokens, store_tokens

MAX_TEXT = 2000
MAX_BUTTONS = 5
MAX_BUTTON_TITLE = 100
MAX_BUTTON_PAYLOAD = 1000
REFRESH_MARGIN = dt.timedelta(minutes=5)  # refresh before expiry, so a send never carries a dying token
# The refresh runs under the lock (on SQLite, the whole database's write lock; other writers wait up to their 30 s
# busy timeout), so it gets one short attempt: a retry after a lost answer would replay a spent refresh token anyway.
OAUTH_TIMEOUT_S = 10.0

_KINDS = {
    -216: "token_expired",
    -220: "token_expired",
    -124: "token_expired",
    -32: "rate_limited",
    -211: "rate_limited",
    -230: "window_closed",
    -232: "window_closed",
    -213: "window_closed",
    -218: "window_closed",
}


class ZaloSendError(Exception):
    """Zalo refused: `kind` is rate_limited, window_closed, token_expired or permanent (see the module table)."""

    def __init__(self, kind: str, code: int | None, description: str):
        super().__init__(f"Zalo {kind} ({code}): {description}")
        self.kind, self.code, self.description = kind, code, description


def _buttons_attachment(buttons: Sequence[Button]) -> dict:
    if len(buttons) > MAX_BUTTONS:
        raise ValueError(f"Zalo shows at most {MAX_BUTTONS} buttons, got {len(buttons)}")
    for button in buttons:
        if not 0 < len(button.title) <= MAX_BUTTON_TITLE or not 0 < len(button.payload) <= MAX_BUTTON_PAYLOAD:
            raise ValueError(
                f"button {button.title!r}: Zalo takes a title of 1-{MAX_BUTTON_TITLE} and a payload "
                f"of 1-{MAX_BUTTON_PAYLOAD} characters"
            )
    return {
        "type": "template",
        "payload": {"buttons": [{"title": b.title, "type": "oa.query.hide", "payload": b.payload} for b in buttons]},
    }


def _fresh(tokens: ZaloTokens) -> bool:
    return as_utc(tokens.expires_at) - utcnow() > REFRESH_MARGIN


class ZaloClient:
    """Sends consultation messages as the OA; keeps the OA's token pair (bot.storage.zalo_tokens) fresh."""

    def __init__(
        self,
        settings: Settings,
        *,
        retry_delay_s: float = 1.0,
        rate_limit_retries: int = 3,
        network_retries: int = 2,
        timeout_s: float = 15.0,
    ):
        self._settings = settings
        self._retry_delay_s = retry_delay_s
        self._rate_limit_retries = rate_limit_retries
        self._network_retries = network_retries
        self._http = httpx.AsyncClient(timeout=timeout_s)

    async def close(self) -> None:
        await self._http.aclose()

    async def send(self, user_id: str, text: str, buttons: Sequence[Button] = ()) -> list[str]:
        """Sends `text` (in several messages past 2,000 characters, buttons under the last); Zalo's message ids."""
        if not text.strip():
            raise ValueError("a Zalo message needs a text")
        attachment = _buttons_attachment(buttons) if buttons else None
        parts = split_text(text, MAX_TEXT)
        ids = []
        for number, part in enumerate(parts, 1):
            message: dict[str, Any] = {"text": part}
            if attachment and number == len(parts):
                message["attachment"] = attachment
            ids.append(await self._send_message({"recipient": {"user_id": user_id}, "message": message}))
        return ids

    async def access_token(self) -> str:
        """The stored access token, refreshed first when it expires within REFRESH_MARGIN."""
        tokens = await asyncio.to_thread(read_tokens)
        if tokens is None:
            raise ZaloSendError("token_expired", None, "no Zalo token stored: authorise the OA first")
        return tokens.access_token if _fresh(tokens) else await self.refresh()

    async def refresh(self, rejected: str | None = None) -> str:
        """A new access token, unless another task or process refreshed meanwhile: then the token it stored.

        `rejected` is the access token Zalo just refused; without it, only a stored token that is not fresh is
        replaced. Shielded: once the single-use refresh token is spent, the new pair must reach the database
        even if the caller is cancelled."""
        return await asyncio.shield(self._refresh_locked(rejected))

    async def _refresh_locked(self, rejected: str | None) -> str:
        loop = asyncio.get_running_loop()
        lock = TokenRowLock()
        with ThreadPoolExecutor(1, thread_name_prefix="zalo-token") as db_thread:
            try:
                tokens = await loop.run_in_executor(db_thread, lock.acquire)
                if tokens is None:
                    raise ZaloSendError("token_expired", None, "no Zalo token stored: authorise the OA first")
                if tokens.access_token != rejected and _fresh(tokens):
                    return tokens.access_token
                reply = await self._post(
                    f"{self._settings.zalo_oauth_url}/v4/oa/access_token",
                    retries=0,
                    timeout=OAUTH_TIMEOUT_S,
                    headers={"secret_key": self._settings.zalo_app_secret},
                    data={
                        "refresh_token": tokens.refresh_token,
                        "app_id": self._settings.zalo_app_id,
                        "grant_type": "refresh_token",
                    },
                )
                if not reply.get("access_token") or not reply.get("refresh_token"):
                    raise ZaloSendError(
                        "token_expired",
                        reply.get("error"),
                        f"token refresh refused ({reply.get('error_name') or reply.get('message')}): "
                        "authorise the OA again",
                    )
                await loop.run_in_executor(
                    db_thread, lock.store, reply["access_token"], reply["refresh_token"], float(reply["expires_in"])
                )
                return reply["access_token"]
            finally:
                await loop.run_in_executor(db_thread, lock.release)

    async def _send_message(self, body: dict) -> str:
        token = await self.access_token()
        refreshed, rate_limited = False, 0
        while True:
            reply = await self._post(
                f"{self._settings.zalo_api_url}/v3.0/oa/message/cs",
                retries=self._network_retries,
                json=body,
                headers={"access_token": token},
            )
            code = reply.get("error")
            if code == 0:
                return str(reply["data"]["message_id"])
            error = ZaloSendError(_KINDS.get(code, "permanent"), code, str(reply.get("message", "")))
            if error.kind == "token_expired" and not refreshed:
                token, refreshed = await self.refresh(rejected=token), True
            elif error.kind == "rate_limited" and rate_limited < self._rate_limit_retries:
                await asyncio.sleep(self._retry_delay_s * 2**rate_limited)
                rate_limited += 1
            else:
                raise error

    async def _post(self, url: str, retries: int, **kwargs: Any) -> dict:
        """Zalo's JSON answer. Zalo reports its errors with HTTP 200, so any other status is an outage."""
        attempt = 0
        while True:
            try:
                response = await self._http.post(url, **kwargs)
                response.raise_for_status()
                return response.json()
            except (httpx.TransportError, httpx.HTTPStatusError) as error:
                status = error.response.status_code if isinstance(error, httpx.HTTPStatusError) else None
                if (status is not None and status < 500 and status != 429) or attempt == retries:
                    raise
            await asyncio.sleep(self._retry_delay_s * 2**attempt)
            attempt += 1


def authorize_command(refresh_token: str) -> int:
    """`python -m bot zalo authorize`: re-authorise with a refresh token an admin got from Zalo's
    OAuth flow. It is exchanged at once, so a wrong token is reported now, not at the next send."""
    from bot.settings import get_settings

    if not refresh_token:
        print("error: give the refresh token on stdin", file=sys.stderr)
        return 1
    store_tokens("", refresh_token, expires_in_s=0)

    async def exchange() -> None:
        client = ZaloClient(get_settings())
        try:
            await client.refresh()
        finally:
            await client.close()

    try:
        asyncio.run(exchange())
    except ZaloSendError as exc:
        print(f"error: Zalo refused the refresh token: {exc}", file=sys.stderr)
        return 1
    print("Zalo OA authorised; tokens stored")
    return 0
