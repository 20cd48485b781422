"""Start Rasa, the action server and the gateway together, restart whichever dies, stop all together.

Each service runs in its own process group with a PID file under var/run, so stopping it stops
its children too, and nothing is ever stopped by name. Used by `make run`, the city layout
(bot/city.py) and the tests. While supervising, a service that exits is started again after a
backoff (1 s, doubling to 30 s; back to 1 s once it stayed up a minute), each restart written to
var/log/supervisor.log.

Each service's output (its log lines in the project's format, bot/logs.py, and whatever else it
prints) is captured in var/log/<service>.log, rotated here at the logs' size: the service keeps
its descriptor, so the file is copied and emptied in place rather than renamed.

Secrets never appear on a command line (`ps` shows them to every user): Rasa gets its API token
and the action server's secret in its environment (rasa_addons/launch.py, endpoints.yml). State
is private: var/ and its folders 0700, files 0600, and the children run with umask 077.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bot import logs
from bot.cli_errors import RASA_ENV, require_rasa_env
from bot.settings import PROJECT_ROOT, Settings, get_settings
from bot.storage import crypto
from bot.storage.db import ensure_reachable, private_sqlite_file

PRIVATE_UMASK = 0o077
SUPERVISE_EVERY_S = 0.25
PROGRESS_EVERY_S = 5.0
# A gateway keeps an idle connection longer than nginx does (its upstream keepalive_timeout, 60 s),
# so nginx never sends a request down a connection the gateway is closing.
GATEWAY_KEEP_ALIVE_S = 75
# what a /readyz check that is not ok is waiting for, in words
WAITING_FOR = {"rasa": "Rasa (model loading)", "action_server": "the action server", "database": "the database"}

log = logging.getLogger("bot.supervisor")
log.setLevel(logging.INFO)  # exits and restarts are recorded whatever LOG_LEVEL says


@dataclass
class Backoff:
    """How long a service that exited waits before its next start."""

    first_s: float = 1.0
    most_s: float = 30.0
    healthy_after_s: float = 60.0  # up this long, a crash counts as the first again
    delay_s: float = 0.0

    def after_exit(self, up_for_s: float) -> float:
        if up_for_s >= self.healthy_after_s or not self.delay_s:
            self.delay_s = self.first_s
        else:
            self.delay_s = min(self.most_s, self.delay_s * 2)
        return self.delay_s


@dataclass
class Service:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0  # time.monotonic() of the current process's start
    restart_at: float | None = None  # set while an exited service waits for its next start
    restarts: int = 0
    backoff: Backoff = field(default_factory=Backoff)


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as environment variables, so every child process sees the same ones."""
    return {
        name.upper(): str(value) for name, value in settings.model_dump().items() if value is not None and value != ""
    }


def data_key_text(settings: Settings) -> str:
    """DATA_KEY, or the key file's keys (created on the first start)."""
    return ",".join(crypto.configured_keys(settings.data_key.get_secret_value(), settings.var_dir))


def tracker_dialect(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


def lock_store_env(redis_url: str) -> dict[str, str]:
    """Rasa's lock store (endpoints.yml): Redis when REDIS_URL is set, so replicas share the
    conversation locks, else each replica's own memory."""
    if not redis_url:
        return {
            "RASA_LOCK_STORE": "in_memory",
            "RASA_LOCK_HOST": "",
            "RASA_LOCK_PORT": "0",
            "RASA_LOCK_DB": "0",
            "RASA_LOCK_PASSWORD": "",
        }
    parts = urlsplit(redis_url)
    return {
        "RASA_LOCK_STORE": "redis",
        "RASA_LOCK_HOST": parts.hostname or "127.0.0.1",
        "RASA_LOCK_PORT": str(parts.port or 6379),
        "RASA_LOCK_DB": parts.path.strip("/") or "0",
        "RASA_LOCK_PASSWORD": parts.password or "",
    }


def rasa_lock_lifetime_s(settings: Settings) -> int:
    """How long Rasa's lock on a conversation lives. A replica killed mid-turn leaves its lock in
    Redis until then (Rasa's default: 60 s, that conversation's wait after a crash); a little
    longer than the gateway waits for a turn, so a live turn never loses its lock."""
    return math.ceil(settings.rasa_timeout_s) + 5


def private_file(path: Path, flags: int):
    """Open a file for writing, created 0600 (an existing one is made 0600 too)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o600)
    os.fchmod(descriptor, 0o600)
    return os.fdopen(descriptor, "wb")


def rotate_captured(path: Path) -> None:
    """Past the logs' size, keep a copy of a service's output as <name>.1 (older copies shifted)
    and empty the file; the service appends, so it goes on writing at the start. Lines written
    during the copy are lost."""
    try:
        if path.stat().st_size < logs.ROTATE_AT_BYTES:
            return
    except FileNotFoundError:
        return
    for older in range(logs.ROTATED_FILES - 1, 0, -1):
        if (copy := path.with_name(f"{path.name}.{older}")).exists():
            copy.replace(path.with_name(f"{path.name}.{older + 1}"))
    with path.open("rb") as source, private_file(path.with_name(f"{path.name}.1"), os.O_TRUNC) as copy:
        shutil.copyfileobj(source, copy)
    os.truncate(path, 0)


class Stack:
    """`env`: extra environment for every service (the city layout's, a test's contract servers);
    `announce`: also told each restart (run_forever prints it)."""

    def __init__(
        self, settings: Settings, *, env: dict[str, str] | None = None, announce: Callable[[str], None] | None = None
    ):
        self.settings = settings
        self.run_dir = settings.var_dir / "run"
        self.log_dir = settings.var_dir / "log"
        self.announce = announce
        self._records: logging.Handler | None = None  # var/log/supervisor.log, unless the process logs there already
        self._supervisor: threading.Thread | None = None
        self._stop_supervising = threading.Event()
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
            # the data key through the environment, never a command line (settings_env shows it masked)
            "DATA_KEY": data_key_text(settings),
            "ACTION_ENDPOINT_URL": f"{settings.actions_url}/webhook",
            "RASA_TRACKER_URL": settings.tracker_url,
            "RASA_TRACKER_DIALECT": tracker_dialect(settings.tracker_url),
            "SANIC_HOST": settings.actions_host,
            **lock_store_env(settings.redis_url),
            "TICKET_LOCK_LIFETIME": str(rasa_lock_lifetime_s(settings)),
            **(env or {}),
        }
        app_python = str(PROJECT_ROOT / ".venv" / "bin" / "python")
        self.services = (
            [
                Service(
                    f"rasa-{replica}",
                    [
                        str(RASA_ENV / "bin" / "python"),
                        "-m",
                        "rasa_addons.launch",
                        "run",
                        "--enable-api",
                        "-i",
                        settings.rasa_host,
                        "-p",
                        str(settings.rasa_port + replica),
                        "--credentials",
                        str(settings.rasa_credentials),
                        "--endpoints",
                        "endpoints.yml",
                        "-m",
                        str(settings.model_dir / "current.tar.gz"),
                    ],
                )
                for replica in range(settings.rasa_replicas)
            ]
            + [
                Service(
                    "actions",
                    [app_python, "-m", "bot.action_server", "--actions", "actions", "-p", str(settings.actions_port)],
                ),
            ]
            + [
                Service(
                    f"gateway-{replica}",
                    [
                        # the app resolves client addresses itself (TRUSTED_PROXIES): uvicorn must not rewrite the peer
                        app_python,
                        "-m",
                        "uvicorn",
                        "bot.app:create_app",
                        "--factory",
                        "--host",
                        settings.gateway_host,
                        "--port",
                        str(port),
                        "--no-access-log",
                        "--no-proxy-headers",
                        "--timeout-keep-alive",
                        str(GATEWAY_KEEP_ALIVE_S),
                    ],
                )
                for replica, port in enumerate(settings.gateway_ports)
            ]
        )

    @property
    def gateway_urls(self) -> list[str]:
        return [f"http://{self.settings.gateway_host}:{port}" for port in self.settings.gateway_ports]

    @property
    def gateway_url(self) -> str:
        return self.gateway_urls[0]

    def describe(self) -> str:
        return (
            f"  web chat:       {self.gateway_url}/\n"
            f"  chat API:       {self.gateway_url}/api/chat\n"
            f"  readiness:      {self.gateway_url}/readyz\n"
            f"  Rasa (token):   {', '.join(self.settings.rasa_urls)}\n"
            f"  action server:  {self.settings.actions_url}"
        )

    def service(self, name: str) -> Service:
        return next(service for service in self.services if service.name == name)

    def _prepare_tracker_store(self) -> None:
        """Create a SQLite tracker store private and in WAL mode (kept in the file): the Rasa
        replicas then read while another writes, instead of waiting for each other."""
        url = self.settings.tracker_url
        if url.startswith("sqlite") and (path := private_sqlite_file(url)):
            with sqlite3.connect(path) as connection:
                connection.execute("PRAGMA journal_mode=WAL")

    def start(self, names: list[str] | None = None) -> None:
        """Start the services named (default: all) that are not running yet."""
        self.settings.ensure_var_dir()
        for folder in (self.run_dir, self.log_dir):
            folder.mkdir(mode=0o700, exist_ok=True)
            folder.chmod(0o700)
        self._prepare_tracker_store()
        self._keep_records()
        for service in self.services:
            if (names is None or service.name in names) and (
                service.process is None or service.process.poll() is not None
            ):
                self._launch(service)

    def _keep_records(self) -> None:
        path = self.log_dir / "supervisor.log"
        if self._records is None and not logs.written_by_root(path):
            self._records = logs.file_handler(self.settings, path)
            log.addHandler(self._records)

    def _launch(self, service: Service) -> None:
        """Start the service in a process group of its own, and write its PID file."""
        with private_file(self.log_dir / f"{service.name}.log", os.O_APPEND) as output:
            service.process = subprocess.Popen(
                service.argv,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                umask=PRIVATE_UMASK,
            )
        service.started_at = time.monotonic()
        with private_file(self.run_dir / f"{service.name}.pid", os.O_TRUNC) as pid_file:
            pid_file.write(str(service.process.pid).encode())

    def exited(self) -> list[str]:
        return [s.name for s in self.services if s.process is not None and s.process.poll() is not None]

    def supervise(self) -> None:
        """Restart, from a background thread, every service that exits, until stop()."""
        if self._supervisor is not None:
            return
        self._stop_supervising.clear()
        self._supervisor = threading.Thread(target=self._supervise_until_stopped, name="supervisor", daemon=True)
        self._supervisor.start()

    def _supervise_until_stopped(self) -> None:
        while not self._stop_supervising.wait(SUPERVISE_EVERY_S):
            self.supervise_once(time.monotonic())

    def supervise_once(self, now: float) -> None:
        """Schedule a restart for each service that exited, and start those whose wait is over."""
        for service in self.services:
            if service.process is None:
                continue
            if service.process.poll() is None:
                rotate_captured(self.log_dir / f"{service.name}.log")
                continue
            if service.restart_at is None:
                self._kill_leftovers(service.process.pid)  # forked workers would hold the port
                up_for_s = now - service.started_at
                wait_s = service.backoff.after_exit(up_for_s)
                service.restart_at = now + wait_s
                self._record(
                    logging.WARNING,
                    f"{service.name} (pid {service.process.pid}) exited with code "
                    f"{service.process.returncode} after {up_for_s:.0f} s up; restarting in {wait_s:.0f} s",
                )
            elif now >= service.restart_at:
                service.restart_at = None
                service.restarts += 1
                self._launch(service)
                self._record(
                    logging.INFO, f"{service.name} restarted (pid {service.process.pid}, restart {service.restarts})"
                )

    def _record(self, level: int, message: str) -> None:
        log.log(level, message)
        if self.announce:
            self.announce(message)

    def log_tail(self, name: str, lines: int = 15) -> str:
        try:
            text = (self.log_dir / f"{name}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout_s: float = 180.0) -> dict:
        """Poll every gateway's /readyz until every part is ready. Unless supervising (which
        restarts it), a service that died fails this at once."""
        started = time.monotonic()
        deadline, progress_at = started + timeout_s, started + PROGRESS_EVERY_S
        waiting = list(self.gateway_urls)
        last: dict = {}
        while time.monotonic() < deadline:
            if time.monotonic() >= progress_at:
                progress_at += PROGRESS_EVERY_S
                log.info("waiting for %s… %.0f s", self._waiting_for(last), time.monotonic() - started)
            if self._supervisor is None and (dead := self.exited()):
                tails = "\n".join(f"--- {name}.log (end) ---\n{self.log_tail(name)}" for name in dead)
                raise RuntimeError(f"{', '.join(dead)} exited during start-up; see {self.log_dir}\n{tails}")
            try:
                response = httpx.get(f"{waiting[0]}/readyz", timeout=5)
                last = response.json()
                if response.status_code == 200:
                    waiting.pop(0)
                    if not waiting:
                        return last
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"not ready after {timeout_s:.0f} s: {last}")

    @staticmethod
    def _waiting_for(readiness: dict) -> str:
        """In words, what the last /readyz answer waits for (before any answer: the gateway)."""
        if not readiness.get("not_ready"):
            return "the gateway"
        return ", ".join(WAITING_FOR.get(name, name) for name in readiness["not_ready"])

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
        if self._supervisor is not None:  # first, so nothing is restarted while stopping
            self._stop_supervising.set()
            self._supervisor.join()
            self._supervisor = None
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
        if self._records is not None:
            log.removeHandler(self._records)
            self._records.close()
            self._records = None

    @staticmethod
    def _kill_leftovers(pgid: int) -> None:
        """Workers a service forked stay in its process group; make sure none outlives it."""
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def serve(layout, what: str) -> int:
    """Start `layout` (a Stack or a City), print where it answers, keep its services running
    (restarted when they die) until Ctrl-C or SIGTERM, then stop all of it."""
    os.umask(PRIVATE_UMASK)  # whatever this process and its children create stays private
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda _signum, _frame: stopping.set())
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    print(f"starting {what} (logs in {layout.settings.var_dir / 'log'}/) …", flush=True)
    started = time.monotonic()
    try:
        layout.start()
        layout.wait_ready()
        layout.supervise()
        print(
            f"ready in {time.monotonic() - started:.0f} s:\n{layout.describe()}\n"
            "A service that stops is restarted (var/log/supervisor.log). Ctrl-C stops everything.",
            flush=True,
        )
        while not stopping.wait(0.5):
            pass
        return 0
    except (RuntimeError, TimeoutError, OSError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping …", flush=True)
        layout.stop()


def run_forever() -> int:
    """`python -m bot run`: its exits and restarts reach the console through the process's logging."""
    settings = get_settings()
    require_rasa_env()
    ensure_reachable(settings.db_url)
    return serve(Stack(settings), "Rasa, the action server and the gateway")
