import httpx
import pytest

from tests.integration.people import open_conversation


@pytest.fixture(scope="session")
def gateway(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        yield client


@pytest.fixture
def chat(gateway):
    """A fresh citizen in a server-issued conversation: chat("text") → list of replies."""
    sender = open_conversation(gateway)

    def send(text: str, **extra) -> list[dict]:
        response = gateway.post("/api/chat", json={"sender_id": sender, "text": text, **extra})
        assert response.status_code == 200, response.text
        return response.json()["replies"]

    send.sender = sender
    return send


def button(replies: list[dict], title: str) -> str:
    """The payload of the button with this title, as clicking it would send."""
    for reply in replies:
        for b in reply["buttons"]:
            if b["title"] == title:
                return b["payload"]
    raise AssertionError(f"no button {title!r} in {replies}")


def texts(replies: list[dict]) -> str:
    return "\n".join(r["text"] for r in replies)
