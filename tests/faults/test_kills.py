"""One fault of each kind `make test` runs, in the middle of a load of web, Telegram and Zalo
citizens on the city layout: kill -9 of a Rasa replica, a gateway and the action server, and a
PostgreSQL restart (see tests/faults/under_load.py for what is checked)."""

from __future__ import annotations

import pytest

from tests.faults.under_load import RESTART_POSTGRES, kill, survives

pytestmark = pytest.mark.faults


def test_a_killed_rasa_replica(city, servers):
    survives(city, servers, recovery_bound_s=180)  # Rasa loads its model again: tens of seconds


def test_a_killed_gateway(city, servers):
    assert survives(city, servers, kill("gateway-0"), recovery_bound_s=60)["restarted_s"] is not None


def test_a_killed_action_server(city, servers):
    assert survives(city, servers, kill("actions"), recovery_bound_s=120)["restarted_s"] is not None


def test_a_postgres_restart(city, servers):
    survives(city, servers, RESTART_POSTGRES, recovery_bound_s=60)
