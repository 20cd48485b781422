"""Floods against the real stack (issue 12): a 256 MB body, declared or chunked, is refused
without the gateway's memory growing (finding 8), and the guards leave the chat itself working."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

BIG_BODY = 256 * 1024 * 1024
MEGABYTE = 1 << 20


def gateway_pid(stack) -> int:
    return stack.service("gateway-0").process.pid


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for process {pid}")


def reset_peak_rss(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the kernel's peak RSS restarts from now


def send_big_body(url: str, chunked: bool) -> tuple[int, int]:
    """POST 256 MB to /api/chat as fast as the gateway takes it: (status answered, bytes it took)."""
    host, port = url.removeprefix("http://").split(":")
    head = "POST /api/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {BIG_BODY}\r\n\r\n"
    block = b"x" * MEGABYTE
    sent = 0
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head.encode())
        try:
            while sent < BIG_BODY:
                sock.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
                sent += len(block)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the gateway refused and closed the connection: what we hope for
        try:
            answer = sock.recv(4096).decode(errors="replace")
        except ConnectionResetError:
            answer = ""
    return (int(answer.split()[1]) if answer.startswith("HTTP/") else 0), sent


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_256_mb_body_leaves_the_gateway_memory_flat(stack, chunked):
    pid = gateway_pid(stack)
    reset_peak_rss(pid)
    before = peak_rss_mb(pid)
    status, sent = send_big_body(stack.gateway_url, chunked)
    grown = peak_rss_mb(pid) - before
    assert status in (413, 0), status  # 0: the refusal came while the body was still going out
    assert sent < BIG_BODY, "the gateway read the whole body"
    assert grown < 16, f"the gateway's peak memory grew {grown:.0f} MB"


def test_the_chat_still_answers_through_the_guards(gateway):
    session = gateway.post("/api/chat/session", json={})
    sender = session.json()["sender_id"] if session.status_code == 200 else "abuse-guards-citizen"
    response = gateway.post("/api/chat", json={"sender_id": sender, "text": "đăng ký khai sinh cần giấy tờ gì"})
    assert response.status_code == 200, response.text
    assert response.json()["replies"]
    assert response.headers["x-content-type-options"] == "nosniff"
