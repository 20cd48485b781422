"""The city layout on one machine: PostgreSQL, Redis, nginx in front of several gateways, several
Rasa replicas and the action server (`make run-city`, the load benchmark, tests/faults/).

Every server is Debian's own binary, run by this process in a folder under var/city/ and a
process group of its own, and stopped by its PID (never by name):
- PostgreSQL (initdb once, pg_ctl with its PID file): the app's database `bot` and Rasa's tracker
  store `rasa`. PostgreSQL refuses to run as root, so under root it runs as the `postgres` user the
  Debian package creates, with its data where that user can reach it (var/ is its owner's only).
- Redis (append-only file, so a restart keeps what it held): Rasa's lock store, the gateways' live
  events and shared rate limits.
- nginx, with deploy/nginx/bot.conf (the site shipped for servers) pointed at this layout's ports.
- the app's processes, supervised by bot/supervisor.Stack: restarted with backoff when they die.

Ports come from the settings: nginx on GATEWAY_PORT, the gateways on the ports after it, Rasa
from RASA_PORT, the action server on ACTIONS_PORT, PostgreSQL on CITY_POSTGRES_PORT and Redis on
CITY_REDIS_PORT. Spread over machines, the same settings point at each server (see deploy/).
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from bot.settings import PROJECT_ROOT, Settings, get_settings
from bot.storage.db import shown_url
from bot.supervisor import PRIVATE_UMASK, Stack, private_file, serve

NGINX_SITE = PROJECT_ROOT / "deploy" / "nginx" / "bot.conf"
APP_PYTHON = str(PROJECT_ROOT / ".venv" / "bin" / "python")


def wait_until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)  # polling a condition, bounded by the deadline
    raise TimeoutError(f"{what} not within {timeout_s:.0f} s")


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def group_rss(pgid: int) -> int:
    """Resident memory of every process in a process group (a server and what it forked)."""
    total = 0
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # the field after the state: ppid, then pgrp
                total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
    return total


def stop_group(process: subprocess.Popen | None, grace_s: float = 15.0) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def start_server(command: list[str], log_path: Path, ready, timeout_s: float = 30.0) -> subprocess.Popen:
    """A server in its own process group, its output appended to `log_path`; returns once `ready()`."""
    with private_file(log_path, os.O_APPEND) as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            umask=PRIVATE_UMASK,
        )
    name = Path(command[0]).name
    wait_until(lambda: process.poll() is not None or ready(), timeout_s, f"{name} ready")
    if process.poll() is not None:
        raise RuntimeError(f"{name} exited with {process.returncode}; see {log_path.parent}")
    return process


def binary(name: str) -> str:
    found = (
        shutil.which(name)
        or shutil.which(name, path="/usr/sbin")
        or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    )
    if found is None:
        raise RuntimeError(f"{name} is not installed (scripts/system-deps installs it)")
    return found


class Postgres:
    """A PostgreSQL server of the layout's own; `restart` keeps its data and port. `databases` are
    created at start; a throwaway server (tests) may trade durability for speed (`durable=False`)."""

    def __init__(self, folder: Path, port: int, *, databases: tuple[str, ...] = ("bot", "rasa"), durable: bool = True):
        self.port, self.databases, self.durable = port, databases, durable
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            # var/ is root's only, out of the postgres user's reach: the data lives in that user's home
            digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]
            folder = Path("/var/lib/postgresql/bot-city") / digest
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.data = folder

    def url(self, database: str, driver: str) -> str:
        return f"postgresql+{driver}://app@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.as_owner, *argv], check=True, capture_output=True, text=True)

    def start(self) -> None:
        if not (self.data / "PG_VERSION").exists():
            self.data.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self.as_owner:
                shutil.chown(self.data.parent, "postgres", "postgres")
                shutil.chown(self.data, "postgres", "postgres")
            # loopback only, and trusted there: on several machines, set passwords and pg_hba.conf
            self._run(
                binary("initdb"), "-D", str(self.data), "-U", "app", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"
            )
        self._run(
            binary("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.data / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
            "-o",
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c max_connections=300"
            + ("" if self.durable else " -c fsync=off"),
        )
        self._create_databases(*self.databases)

    def _create_databases(self, *names: str) -> None:
        if not names:
            return
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=app dbname=postgres", autocommit=True) as db:
            existing = {row[0] for row in db.execute("SELECT datname FROM pg_database")}
            for name in names:
                if name not in existing:
                    db.execute(f'CREATE DATABASE "{name}"')

    @property
    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def stop(self) -> None:
        if self.pid is not None:
            self._run(binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def discard(self) -> None:
        """The data, gone (a throwaway layout's; it may live outside the layout's folder)."""
        shutil.rmtree(self.data, ignore_errors=True)


class Redis:
    """A Redis server of the layout's own, append-only, so a restart keeps what it held."""

    def __init__(self, folder: Path, port: int):
        self.folder, self.port = folder, port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.process = start_server(
            [
                binary("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--save",
                "",
            ],
            self.folder / "redis.log",
            self._answers,
        )

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        stop_group(self.process)


def nginx_site(listen: str, gateways: list[str]) -> str:
    """The shipped site (deploy/nginx/bot.conf) listening on `listen`, in front of `gateways`."""
    site = NGINX_SITE.read_text()
    upstream = re.search(r"(?m)^( +)server 127\.0\.0\.1:\d+( .*;)\n(?:\1server .*\n)*", site)
    indent, options = upstream.group(1), upstream.group(2)
    servers = "".join(f"{indent}server {address}{options}\n" for address in gateways)
    site = site[: upstream.start()] + servers + site[upstream.end() :]
    return re.sub(r"(?m)^( +)listen 80;$", rf"\1listen {listen};", site)


class Nginx:
    """Debian's nginx with a generated configuration under its own prefix folder."""

    def __init__(self, prefix: Path, port: int, gateway_ports: list[int]):
        self.prefix, self.port = prefix, port
        self.gateways = [f"127.0.0.1:{port}" for port in gateway_ports]
        self.process: subprocess.Popen | None = None

    def configuration(self) -> str:
        prefix = self.prefix
        # nginx ignores `user` unless it starts as root; as root, workers must reach the private prefix
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = "".join(
            f"    {kind}_temp_path {prefix / 'tmp' / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            "# written by bot/city.py at every start\n"
            f"{user}worker_processes auto;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} warn;\n"
            "events {\n    worker_connections 4096;\n}\n"
            "http {\n"
            # which gateway served each request, and how long it took (no bodies, no query strings)
            '    log_format upstream \'$remote_addr [$time_local] "$request_method $uri" $status '
            "$upstream_addr $request_time';\n"
            f"    access_log {prefix / 'access.log'} upstream;\n{temp}"
            f"    include {prefix / 'site.conf'};\n"
            "}\n"
        )

    @property
    def command(self) -> list[str]:
        return [
            binary("nginx"),
            "-p",
            str(self.prefix),
            "-c",
            str(self.prefix / "nginx.conf"),
            "-e",
            str(self.prefix / "error.log"),
            "-g",
            "daemon off;",
        ]

    def write_configuration(self) -> None:
        (self.prefix / "tmp").mkdir(mode=0o700, parents=True, exist_ok=True)
        with private_file(self.prefix / "site.conf", os.O_TRUNC) as site:
            site.write(nginx_site(f"127.0.0.1:{self.port}", self.gateways).encode())
        with private_file(self.prefix / "nginx.conf", os.O_TRUNC) as conf:
            conf.write(self.configuration().encode())

    def start(self) -> None:
        self.write_configuration()
        self.process = start_server(self.command, self.prefix / "nginx.log", lambda: listening(self.port))

    def stop(self) -> None:
        stop_group(self.process)


class City:
    """PostgreSQL + Redis + nginx + `gateways` gateways + `rasa_replicas` Rasa + the action server.
    With postgres=False and redis=False it is the single-machine default (SQLite) behind nginx.
    `env`: extra environment for the app's processes (e.g. a contract server's TELEGRAM_API_URL)."""

    def __init__(
        self,
        settings: Settings,
        *,
        gateways: int = 2,
        rasa_replicas: int = 2,
        postgres: bool = True,
        redis: bool = True,
        env: dict[str, str] | None = None,
    ):
        self.folder = settings.var_dir / "city"
        self.postgres = Postgres(self.folder / "pg", settings.city_postgres_port) if postgres else None
        self.redis = Redis(self.folder / "redis", settings.city_redis_port) if redis else None
        app_settings = settings.model_copy(
            update={
                "gateway_port": settings.gateway_port + 1,
                "gateway_replicas": gateways,
                "rasa_replicas": rasa_replicas,
                **(
                    {
                        "database_url": self.postgres.url("bot", "psycopg"),
                        "rasa_tracker_url": self.postgres.url("rasa", "psycopg2"),
                    }
                    if postgres
                    else {}
                ),
                **({"redis_url": self.redis.url} if redis else {}),
            }
        )
        self.stack = Stack(app_settings, env=env)
        self.nginx = Nginx(self.folder / "nginx", settings.gateway_port, app_settings.gateway_ports)
        self.url = f"http://127.0.0.1:{settings.gateway_port}"
        self.gateway_urls = self.stack.gateway_urls
        self.database_url = app_settings.db_url
        self.settings = app_settings

    def start(self) -> None:
        """Start every server; the app's database is migrated and the knowledge loaded first."""
        self.settings.ensure_var_dir()
        self.folder.mkdir(mode=0o700, exist_ok=True)
        if self.postgres:
            self.postgres.start()
        if self.redis:
            self.redis.start()
        # Rasa takes longest to load its model: it starts while the app's database is prepared
        self.stack.start([service.name for service in self.stack.services if service.name.startswith("rasa-")])
        for command in (["db", "upgrade"], ["kb", "load"]):  # in a process of its own: settings read afresh
            done = subprocess.run(
                [APP_PYTHON, "-m", "bot", *command],
                cwd=PROJECT_ROOT,
                env=self.stack.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                umask=PRIVATE_UMASK,
            )
            if done.returncode:
                raise RuntimeError(f"`python -m bot {' '.join(command)}` failed:\n{done.stderr[-2000:]}")
        self.stack.start()
        self.nginx.start()

    def wait_ready(self, timeout_s: float = 300.0) -> dict:
        """Every gateway ready, and nginx passing requests to them; from then on, supervised."""
        started = time.monotonic()
        self.stack.wait_ready(timeout_s)
        wait_until(
            self._ready_through_nginx, max(1.0, timeout_s - (time.monotonic() - started)), "/readyz through nginx"
        )
        self.supervise()
        return httpx.get(f"{self.url}/readyz", timeout=5).json()

    def _ready_through_nginx(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def supervise(self) -> None:
        self.stack.supervise()

    def stop(self) -> None:
        """Everything, in the reverse order of starting; what was not started is skipped."""
        self.nginx.stop()
        self.stack.stop()
        for server in (self.redis, self.postgres):
            if server:
                server.stop()

    @contextmanager
    def running(self):
        """A throwaway layout (tests, benchmarks): started and ready inside the block, stopped after
        it (also when starting fails), and its database discarded."""
        try:
            self.start()
            self.wait_ready()
            yield self
        finally:
            self.stop()
            if self.postgres:
                self.postgres.discard()

    def pid(self, name: str) -> int:
        """The current main PID of an app process: gateway-0, gateway-1, rasa-0, rasa-1, actions."""
        return self.stack.service(name).process.pid

    def restart_postgres(self) -> None:
        self.postgres.stop()
        self.postgres.start()

    def restart_redis(self) -> None:
        self.redis.stop()
        self.redis.start()

    def memory(self) -> dict[str, int]:
        """Resident bytes per process (with what it forked): each app process, postgres, redis, nginx."""
        groups = {service.name: service.process.pid for service in self.stack.services if service.process}
        groups["nginx"] = self.nginx.process.pid if self.nginx.process else None
        groups["postgres"] = self.postgres.pid if self.postgres else None
        groups["redis"] = self.redis.process.pid if self.redis and self.redis.process else None
        return {name: group_rss(pgid) for name, pgid in groups.items() if pgid}

    def describe(self) -> str:
        lines = [
            f"  web chat (nginx):  {self.url}/",
            f"  gateways:          {', '.join(self.gateway_urls)}",
            f"  Rasa (token):      {', '.join(self.settings.rasa_urls)}",
            f"  action server:     {self.settings.actions_url}",
            f"  app database:      {shown_url(self.database_url)}",
        ]
        if self.postgres:
            lines.append(f"  Rasa tracker:      {shown_url(self.settings.tracker_url)}")
        if self.redis:
            lines.append(f"  Redis:             {self.redis.url}")
        return "\n".join(lines)


def run_city() -> int:
    city = City(get_settings())
    return serve(city, "PostgreSQL, Redis, nginx, 2 gateways, 2 Rasa replicas and the action server")
