"""Only the gateway may talk to Rasa: its API and the gateway channel both need the token."""

import httpx

from bot.settings import get_settings


def test_rasa_api_needs_the_token(stack):
    settings = get_settings()
    assert httpx.get(f"{settings.rasa_url}/status").status_code in (401, 403)
    assert httpx.get(f"{settings.rasa_url}/status", params={"token": settings.ensure_rasa_token()}).status_code == 200


def test_gateway_channel_rejects_a_wrong_token(stack):
    url = f"{get_settings().rasa_url}/webhooks/gateway/webhook"
    body = {"sender": "x", "message": "/restart", "message_id": "1"}
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.post(url, json=body).status_code == 401


def test_rasa_rest_channel_is_not_enabled(stack):
    url = f"{get_settings().rasa_url}/webhooks/rest/webhook"
    assert httpx.post(url, json={"sender": "x", "message": "/restart"}).status_code == 404
