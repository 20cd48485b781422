"""A city layout (PostgreSQL, Redis, nginx, two gateways, two Rasa replicas, the action server),
started once for all the fault tests (each leaves it recovered), with Telegram and Zalo pointed at
local contract servers. Its start-up time is printed (`pytest -s`)."""

from __future__ import annotations

import shutil
import time

import pytest

from benchmarks.crowd import ContractServers, deployment_settings
from bot.city import City
from tests import postgres
from tests.conftest import ROOT
from tests.system import require


@pytest.fixture(scope="session")
def servers():
    with ContractServers() as running:
        yield running


@pytest.fixture(scope="session")
def city(servers, tmp_path_factory):
    require(postgres.available(), "postgresql")
    for package, program in (("redis-server", "redis-server"), ("nginx", "nginx")):
        require(shutil.which(program) is not None or shutil.which(program, path="/usr/sbin") is not None, package)
    if not (ROOT / "models" / "current.tar.gz").exists():
        pytest.fail("no trained model: run `make train` (make test does)")
    settings = deployment_settings(
        tmp_path_factory.mktemp("city"), gateways=2, volunteer_hours="00:00-00:00"
    )  # the desk is open, and nobody is on duty
    started = time.monotonic()
    with City(settings, env=servers.env()).running() as running:
        print(f"city layout ready in {time.monotonic() - started:.0f} s")
        servers.authorise_zalo(running.database_url)
        yield running
