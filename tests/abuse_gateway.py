"""A gateway replica for the abuse tests (issue 12) with its own settings, served on a free
loopback port from the test process. Rasa and the action server are not needed for what these
tests ask (limits, body caps, headers, logins)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.settings import get_settings
from tests.integration.replica import Replica


@contextmanager
def abuse_gateway(**overrides) -> Iterator[Replica]:
    replica = Replica(get_settings().model_copy(update=overrides))
    # the TCP peer as it is: bot/limits alone decides whom to believe about X-Forwarded-For
    replica.server.config.proxy_headers = False
    with replica:
        yield replica


FAR_CLIENT = "203.0.113.7"  # a documentation address: not loopback, reached through the trusted proxy
