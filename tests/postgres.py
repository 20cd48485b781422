"""A throwaway PostgreSQL server for the tests, from Debian's binaries: its own data folder and a
free port on loopback, started and stopped with pg_ctl (by its PID file). PostgreSQL refuses to
run as root, so under root (CI) it runs as the `postgres` user the Debian package creates."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.ports import free_port


def _binary(name: str) -> str | None:
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)


def available() -> bool:
    return _binary("initdb") is not None and _binary("pg_ctl") is not None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields an SQLAlchemy URL of an empty database on a fresh server."""
    data = Path(tempfile.mkdtemp(prefix="pg-test-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    pg_ctl = _binary("pg_ctl")

    def run(*argv: str) -> None:
        subprocess.run([*as_owner, *argv], check=True, capture_output=True, text=True)

    run(_binary("initdb"), "-D", str(data / "db"), "-U", "app", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
    run(
        pg_ctl,
        "-D",
        str(data / "db"),
        "-l",
        str(data / "db" / "server.log"),
        "-w",
        "-t",
        "60",
        "start",
        "-o",
        f"-p {port} -k {data / 'db'} -c listen_addresses=127.0.0.1 -c fsync=off",
    )
    try:
        yield f"postgresql+psycopg://app@127.0.0.1:{port}/postgres"
    finally:
        run(pg_ctl, "-D", str(data / "db"), "-m", "fast", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)
