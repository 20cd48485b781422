from collections import Counter

from bot.rasa_client import RasaClient


def test_a_conversation_always_goes_to_the_same_replica_and_load_spreads():
    client = RasaClient(["http://127.0.0.1:1", "http://127.0.0.1:2"], "token")
    assert all(client.replica_url(f"s{i}") == client.replica_url(f"s{i}") for i in range(50))
    spread = Counter(client.replica_url(f"sender-{i}") for i in range(1000))
    assert len(spread) == 2 and min(spread.values()) > 400
