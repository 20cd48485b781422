"""Start Rasa, the action server and the gateway together; stop all of them together.

Each service runs in its own process group with a PID file under var/run, so stopping it stops
its children too, and nothing is ever stopped by name. Used by `make run` and by the tests.

Secrets never appear on a command line (`ps` shows them to every user): Rasa gets its API token
and the action server's secret in its environment (rasa_addons/launch.py, endpoints.yml). State
is private: var/ and its folders 0700, files 0600, and the children run with umask 077.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.settings import PROJECT_ROOT, Settings, get_settings
from bot.storage.db import private_sqlite_file

PRIVATE_UMASK = 0o077


@dataclass
class Service:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as environment variables, so every child process sees the same ones."""
    return {
        name.upper(): str(value)
        for name, value in settings.model_dump().items()
        if value is not None and value != ""
    }


def tracker_dialect(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


def private_file(path: Path, flags: int):
    """Open a file for writing, created 0600 (an existing one is made 0600 too)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o600)
    os.fchmod(descriptor, 0o600)
    return os.fdopen(descriptor, "wb")


class Stack:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.run_dir = settings.var_dir / "run"
        self.log_dir = settings.var_dir / "log"
        self.env = {
            # TensorFlow's thread pools spread one small DIET inference over every core and spin
            # while waiting; with a Rasa replica per core that only burns the other replicas' CPU
            # (one thread each: +8% messages/s on 2 cores). An operator's own values win.
            "TF_INTER_OP_PARALLELISM_THREADS": "1",
            "TF_INTRA_OP_PARALLELISM_THREADS": "1",
            **os.environ,
            **settings_env(settings),
            "PYTHONPATH": str(PROJECT_ROOT),
            "RASA_TELEMETRY_ENABLED": "false",
            "RASA_TOKEN": settings.ensure_rasa_token(),
            "ACTIONS_SECRET": settings.ensure_actions_secret(),
            "ACTION_ENDPOINT_URL": f"{settings.actions_url}/webhook",
            "RASA_TRACKER_URL": settings.tracker_url,
            "RASA_TRACKER_DIALECT": tracker_dialect(settings.tracker_url),
            "SANIC_HOST": settings.actions_host,
        }
        app_python = str(PROJECT_ROOT / ".venv" / "bin" / "python")
        self.services = [
            Service(f"rasa-{replica}", [
                str(PROJECT_ROOT / ".venv-rasa" / "bin" / "python"), "-m", "rasa_addons.launch", "run", "--enable-api",
                "-i", settings.rasa_host, "-p", str(settings.rasa_port + replica),
                "--credentials", str(settings.rasa_credentials), "--endpoints", "endpoints.yml",
                "-m", str(settings.model_dir / "current.tar.gz"),
            ])
            for replica in range(settings.rasa_replicas)
        ] + [
            Service("actions", [app_python, "-m", "bot.action_server", "--actions", "actions", "-p", str(settings.actions_port)]),
            Service("gateway", [
                # the app resolves client addresses itself (TRUSTED_PROXIES): uvicorn must not rewrite the peer
                app_python, "-m", "uvicorn", "bot.app:create_app", "--factory", "--host", settings.gateway_host,
                "--port", str(settings.gateway_port), "--no-access-log", "--no-proxy-headers",
            ]),
        ]

    @property
    def gateway_url(self) -> str:
        return f"http://{self.settings.gateway_host}:{self.settings.gateway_port}"

    def _prepare_tracker_store(self) -> None:
        """Create a SQLite tracker store private and in WAL mode (kept in the file): the Rasa
        replicas then read while another writes, instead of waiting for each other."""
        url = self.settings.tracker_url
        if url.startswith("sqlite") and (path := private_sqlite_file(url)):
            with sqlite3.connect(path) as connection:
                connection.execute("PRAGMA journal_mode=WAL")

    def start(self) -> None:
        self.settings.ensure_var_dir()
        for folder in (self.run_dir, self.log_dir):
            folder.mkdir(mode=0o700, exist_ok=True)
            folder.chmod(0o700)
        self._prepare_tracker_store()
        for service in self.services:
            with private_file(self.log_dir / f"{service.name}.log", os.O_APPEND) as log:
                service.process = subprocess.Popen(
                    service.argv, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True, umask=PRIVATE_UMASK,
                )
            with private_file(self.run_dir / f"{service.name}.pid", os.O_TRUNC) as pid_file:
                pid_file.write(str(service.process.pid).encode())

    def exited(self) -> list[str]:
        return [s.name for s in self.services if s.process is not None and s.process.poll() is not None]

    def log_tail(self, name: str, lines: int = 15) -> str:
        try:
            text = (self.log_dir / f"{name}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout_s: float = 180.0) -> dict:
        """Poll the gateway's /readyz until every part is ready; fail early if a service died."""
        deadline = time.monotonic() + timeout_s
        last: dict = {}
        while time.monotonic() < deadline:
            if dead := self.exited():
                tails = "\n".join(f"--- {name}.log (end) ---\n{self.log_tail(name)}" for name in dead)
                raise RuntimeError(f"{', '.join(dead)} exited during start-up; see {self.log_dir}\n{tails}")
            try:
                response = httpx.get(f"{self.gateway_url}/readyz", timeout=5)
                last = response.json()
                if response.status_code == 200:
                    return last
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"not ready after {timeout_s:.0f} s: {last}")

    @contextmanager
    def running(self):
        """Started and ready inside the block, stopped after it (also when starting fails)."""
        self.start()
        try:
            self.wait_ready()
            yield self
        finally:
            self.stop()

    def stop(self, grace_s: float = 15.0) -> None:
        for service in self.services:
            if service.process is not None and service.process.poll() is None:
                os.killpg(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for service in self.services:
            if service.process is None:
                continue
            try:
                service.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait()
            self._kill_leftovers(service.process.pid)
            (self.run_dir / f"{service.name}.pid").unlink(missing_ok=True)

    @staticmethod
    def _kill_leftovers(pgid: int) -> None:
        """Workers a service forked stay in its process group; make sure none outlives it."""
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_forever() -> int:
    os.umask(PRIVATE_UMASK)  # whatever this process and its children create stays private
    settings = get_settings()
    stack = Stack(settings)
    stopping = False

    def request_stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print("starting Rasa, the action server and the gateway (logs in var/log/) …", flush=True)
    started = time.monotonic()
    stack.start()
    try:
        stack.wait_ready()
        print(
            f"ready in {time.monotonic() - started:.0f} s\n"
            f"  web chat:       {stack.gateway_url}/\n"
            f"  chat API:       {stack.gateway_url}/api/chat\n"
            f"  readiness:      {stack.gateway_url}/readyz\n"
            f"  Rasa (token):   {', '.join(settings.rasa_urls)}\n"
            f"  action server:  {settings.actions_url}\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        while not stopping:
            if dead := stack.exited():
                print(f"{', '.join(dead)} stopped unexpectedly; stopping the others", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping …", flush=True)
        stack.stop()
