"""A throwaway Redis server for the tests (Debian's redis-server): a free loopback port, no
persistence, its own process group, stopped by its PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.ports import free_port


def available() -> bool:
    return shutil.which("redis-server") is not None


@contextmanager
def redis_server(port: int | None = None) -> Iterator[str]:
    """Yields the URL of a fresh server (on `port`, to start one again where another was)."""
    port = port or free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_until_it_answers(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def _wait_until_it_answers(port: int, process: subprocess.Popen, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass  # not listening yet
        time.sleep(0.05)  # polling a condition (the port answers), bounded by the deadline
    raise TimeoutError("redis-server did not answer")
