"""Helpers of the integration tests (the `gateway` and `chat` fixtures live in tests/conftest.py)."""


def button(replies: list[dict], title: str) -> str:
    """The payload of the button with this title, as clicking it would send."""
    for reply in replies:
        for b in reply["buttons"]:
            if b["title"] == title:
                return b["payload"]
    raise AssertionError(f"no button {title!r} in {replies}")


def texts(replies: list[dict]) -> str:
    return "\n".join(r["text"] for r in replies)
