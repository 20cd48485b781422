"""The fault runs only `make test-faults` makes: a Redis restart, kills one after the other, and
a kill under a longer, heavier load."""

from __future__ import annotations

import pytest

from tests.faults.under_load import RESTART_REDIS, kill, survives

pytestmark = pytest.mark.slow_faults


def test_a_redis_restart(city, servers):
    survives(city, servers, RESTART_REDIS, recovery_bound_s=60)


@pytest.mark.parametrize("process", ["gateway-1", "actions", "rasa-0"])
def test_a_process_killed_again_while_it_starts(city, servers, process):
    """A crash loop: killed, then killed again as soon as it was started anew (the backoff grows)."""
    survives(city, servers, kill(process, times=2), recovery_bound_s=240)


def test_a_killed_rasa_replica_under_a_longer_load(city, servers):
    survives(city, servers, conversations=60, before_s=30, after_s=30, recovery_bound_s=240)
