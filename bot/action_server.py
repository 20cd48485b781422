"""rasa-sdk's action server, open only to Rasa.

    .venv/bin/python -m bot.action_server --actions actions -p 5055

rasa-sdk serves any local POST (a browser page can send one as `text/plain`). Through rasa-sdk's
own plugin hook this adds a request check: every route but `/health` needs
`Authorization: Bearer <ACTIONS_SECRET>` (401), and a POST must be JSON (415). Rasa sends the
header from endpoints.yml; the secret comes from the environment or var/actions_secret.
"""

from __future__ import annotations

import hmac

import pluggy
from rasa_sdk import utils as rasa_sdk_utils
from rasa_sdk.__main__ import main as rasa_sdk_main
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic, response
from sanic.request import Request

from bot import logs
from bot.settings import get_settings

hookimpl = pluggy.HookimplMarker("rasa_sdk")
OPEN_PATHS = {"/health"}


class RasaOnly:
    """The rasa-sdk plugin that guards every call."""

    def __init__(self, secret: str):
        self.expected = f"Bearer {secret}".encode()

    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        app.register_middleware(self.check, "request")

    async def check(self, request: Request):
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, self.expected):
            return response.json({"error": "unauthorised"}, status=401)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if request.method == "POST" and media_type != "application/json":
            return response.json({"error": "send application/json"}, status=415)
        return None


def main() -> None:
    settings = get_settings()
    # rasa-sdk would install its own (coloured) console handler; the project's format replaces it
    rasa_sdk_utils.configure_colored_logging = lambda _level: logs.configure(settings, "actions")
    plugin_manager().register(RasaOnly(settings.ensure_actions_secret()))
    rasa_sdk_main()


if __name__ == "__main__":
    main()
