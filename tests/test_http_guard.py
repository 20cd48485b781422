"""The gateway's guards on untrusted requests (issue 12): bodies capped before and while they are
read (finding 8), JSON that FastAPI parses itself refused as 4xx when too deep or not text
(finding 11), security headers on every answer (finding 1) and the API docs behind a setting
(finding 15)."""

from __future__ import annotations

import json
import select
import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse
from starlette.routing import Route

from bot.http_guard import PAGE_POLICY, SecurityHeaders
from bot.settings import get_settings
from tests.abuse_gateway import abuse_gateway

CHAT_CAP = get_settings().max_message_chars * 4 + 1024
OTHER_CAP = get_settings().max_body_bytes


@pytest.fixture(scope="module")
def gateway(loaded_db):
    with abuse_gateway() as replica:
        yield replica


def connect(gateway) -> socket.socket:
    host, port = gateway.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def read_answer(sock: socket.socket) -> tuple[int, str]:
    """(status, whole answer) of a refusal: the server closes the connection after it."""
    data = b""
    while piece := sock.recv(65536):
        data += piece
    assert data, "the connection closed without an answer"
    answer = data.decode(errors="replace")
    return int(answer.split()[1]), answer


@pytest.mark.parametrize(
    ("path", "size"),
    [("/api/chat", 256 * 1024 * 1024), ("/api/chat", CHAT_CAP + 1), ("/console/api/login", OTHER_CAP + 1)],
)
def test_a_declared_size_over_the_cap_is_refused_before_the_body_is_sent(gateway, path, size):
    with connect(gateway) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n".encode()
        )  # and not one byte of the body
        status, answer = read_answer(sock)
    assert status == 413, answer
    assert "connection: close" in answer.lower()
    assert '"error"' in answer


def test_a_chunked_body_is_cut_off_once_over_the_cap(gateway):
    block = json.dumps({"username": "x" * 4000}).encode()
    sent = 0
    with connect(gateway) as sock:
        sock.sendall(
            b"POST /console/api/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        answered = False
        while sent < OTHER_CAP * 4 and not answered:
            sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
            sent += len(block)
            answered = bool(select.select([sock], [], [], 0.1)[0])  # an answer is waiting to be read
        if not answered:
            sock.sendall(b"0\r\n\r\n")
        status, answer = read_answer(sock)
    assert status == 413, answer
    assert sent <= OTHER_CAP + 8 * len(block), f"{sent} bytes went in before the refusal"


@pytest.mark.parametrize(
    "body",
    [
        b'{"username": "\\ud800", "password": "mat-khau-bat-ky"}',  # a lone surrogate
        b'{"username": "lan", "password": "x", "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"username": ' + b'{"a": ' * 50 + b"1" + b"}" * 50 + b', "password": "x"}',
        b'{"username": "lan", "password": "\xff\xfe"}',  # not UTF-8
    ],
)
@pytest.mark.parametrize("content_type", ["application/json", None])
def test_bodies_fastapi_parses_itself_are_4xx_never_500(gateway, body, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(f"{gateway.url}/console/api/login", content=body, headers=headers)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert "error" in response.json()


def test_a_body_in_bounds_still_reaches_its_route(gateway):
    response = httpx.post(f"{gateway.url}/console/api/login", json={"username": "khong-co", "password": "sai-mat-khau"})
    assert response.status_code == 401
    assert response.json() == {"error": "Sai tên đăng nhập hoặc mật khẩu."}


@pytest.mark.parametrize("path", ["/", "/console", "/console/report"])
def test_pages_have_a_strict_policy(gateway, path):
    response = httpx.get(f"{gateway.url}{path}")
    if path == "/console/report":
        assert response.status_code == 401  # needs a login; its HTML is served by the same path
    else:
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["content-security-policy"] == PAGE_POLICY
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/static/chat.js",
        "/console/static/console.css",
        "/healthz",
        "/khong-co",
        "/static/khong-co.js",
        "/console/api/me",
    ],
)
def test_every_answer_says_nosniff(gateway, path):
    response = httpx.get(f"{gateway.url}{path}")
    assert response.headers["x-content-type-options"] == "nosniff", (path, response.status_code)
    assert "content-security-policy" not in response.headers  # only pages need one


async def _own_policy(_):
    return HTMLResponse("<p>file</p>", headers={"Content-Security-Policy": "default-src 'none'; sandbox"})


async def _broken(_):
    raise RuntimeError("a bug")


def _guarded_app() -> Starlette:
    """Installed as the gateway installs it: inside the server error middleware."""
    return Starlette(
        routes=[Route("/own", _own_policy), Route("/broken", _broken)], middleware=[Middleware(SecurityHeaders)]
    )


@pytest.mark.anyio
async def test_a_response_with_its_own_policy_keeps_it():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_guarded_app()), base_url="http://t") as client:
        response = await client.get("/own")
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.anyio
async def test_an_unhandled_error_answers_json_with_the_headers():
    transport = httpx.ASGITransport(app=_guarded_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/broken")
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "error" in response.json()


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_api_docs_can_be_turned_off(gateway, loaded_db):
    assert all(httpx.get(f"{gateway.url}{path}").status_code == 200 for path in ("/docs", "/redoc", "/openapi.json"))
    with abuse_gateway(api_docs=False) as closed:
        assert [httpx.get(f"{closed.url}{path}").status_code for path in ("/docs", "/redoc", "/openapi.json")] == [
            404
        ] * 3
