"""Waiting for a condition in tests: polled, with a deadline, never a bare sleep."""

from __future__ import annotations

import asyncio
import time


def wait_until(condition, failure: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.02)  # polling the condition, bounded by the deadline


async def wait_until_async(condition, failure: str, timeout_s: float = 60) -> None:
    """wait_until inside an event loop: the loop's other tasks run while the condition is polled."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, failure
        await asyncio.sleep(0.02)
