"""Code that runs inside Rasa (Python 3.10 environment), exercised there."""

import json
import os
import subprocess

from tests.conftest import ROOT

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


def run_in_rasa(code: str) -> dict:
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "PYTHONPATH": str(ROOT),
            "RASA_TELEMETRY_ENABLED": "false",
            "PATH": "/usr/bin:/bin",
            "VAR_DIR": os.environ["VAR_DIR"],
        },
    )  # the session's data key
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_tokenizer_keeps_exact_offsets_and_folded_lemmas():
    result = run_in_rasa("""
import json
from rasa.shared.nlu.training_data.message import Message
from rasa_addons.components import VietnameseTokenizer
tokenizer = VietnameseTokenizer(VietnameseTokenizer.get_default_config())
text = "làm giấy khai sinh mã 1.001193 ngày 12/05/2024 hết 8.000 đồng"
tokens = tokenizer.tokenize(Message(data={"text": text}), "text")
print(json.dumps({"ok": all(text[t.start:t.end] == t.text for t in tokens),
                  "texts": [t.text for t in tokens], "lemmas": [t.lemma for t in tokens]}))
""")
    assert result["ok"]
    assert result["texts"][:4] == ["làm", "giấy", "khai", "sinh"]
    assert "1.001193" in result["texts"] and "12/05/2024" in result["texts"] and "8.000" in result["texts"]
    assert result["lemmas"][:2] == ["lam", "giay"] and "dong" in result["lemmas"]


def test_action_response_validation_keeps_its_verdicts():
    result = run_in_rasa("""
import json
from jsonschema import ValidationError
from rasa_addons import speedups
from rasa.core.actions.action import RemoteAction
speedups.install()
action = RemoteAction.__new__(RemoteAction)
good = action._validate_action_result({"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"text": "a"}]})
try:
    action._validate_action_result({"events": [{"event": "no_such_event"}], "responses": "x"})
    bad = "accepted"
except ValidationError as error:
    bad = error.message
print(json.dumps({"good": good, "bad": bad}))
""")
    assert result["good"] is True
    assert result["bad"] != "accepted" and "Failed to validate Action server response" in result["bad"]


def test_event_lookup_table_finds_the_classes_the_walk_finds():
    result = run_in_rasa("""
import json
from rasa_addons import speedups
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses
names = sorted({cls.type_name for cls in all_subclasses(Event)})
walked = {name: Event.resolve_by_type(name).__name__ for name in names}
speedups.install()
looked_up = {name: Event.resolve_by_type(name).__name__ for name in names}
try:
    Event.resolve_by_type("no_such_event")
    unknown = "accepted"
except ValueError as error:
    unknown = str(error)
print(json.dumps({"same": walked == looked_up, "count": len(names), "unknown": unknown,
                  "topic": Event.resolve_by_type("topic")}))
""")
    assert result["same"] and result["count"] > 15
    assert result["unknown"] == "Unknown event name 'no_such_event'." and result["topic"] is None


# Rasa's own SQL tracker store, the reference ours is compared with; it reads the events' data
# decrypted, as ours stores it encrypted (prepended to the cases run in Rasa's environment).
RASAS_STORE = """
from pathlib import Path
from types import SimpleNamespace
from rasa.core.tracker_store import SQLTrackerStore
from bot.storage import crypto


class RasasStore(SQLTrackerStore):
    def _event_query(self, *args, **kwargs):
        ring = crypto.ring_from_environment(Path("var"))
        rows = [SimpleNamespace(data=ring.decrypt(row.data)) for row in super()._event_query(*args, **kwargs).all()]
        return SimpleNamespace(all=lambda: rows)
"""

TRACKER_STORE_CASE = """
import asyncio, json
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_addons.tracker_store import GatewaySQLTrackerStore

URL, DIALECT = {url!r}, {dialect!r}
domain = Domain.from_dict({{"slots": {{"procedure": {{"type": "text", "mappings": [{{"type": "custom"}}]}}}}}})


def session(start):
    return [ActionExecuted("action_session_start", timestamp=start), SessionStarted(timestamp=start),
            ActionExecuted("action_listen", timestamp=start + 1),
            UserUttered("lam khai sinh", {{"name": "ask_documents", "confidence": 0.9}}, timestamp=start + 2),
            SlotSet("procedure", "dang-ky-khai-sinh", timestamp=start + 3),
            BotUttered("Dạ, anh/chị cần…", timestamp=start + 4), ActionExecuted("action_listen", timestamp=start + 5)]


async def main():
    ours = GatewaySQLTrackerStore(domain=domain, host=URL, dialect=DIALECT)
    theirs = RasasStore(domain=domain, host=URL, dialect=DIALECT)
    tracker = DialogueStateTracker("citizen", domain.slots)
    for item in session(100.0):  # saved after every event, as Rasa saves after each step
        tracker.update(item)
        await ours.save(tracker)
    await ours.save(tracker)  # nothing new: nothing stored twice
    first_session = [e.as_dict() for e in (await ours.retrieve("citizen")).events]
    tracker = await ours.retrieve("citizen")
    for item in session(200.0):  # a new session in the same tracker object, saved once as Rasa does
        tracker.update(item)
    await ours.save(tracker)
    legacy = DialogueStateTracker("no-session", domain.slots)
    for item in session(300.0)[2:]:  # a conversation that never had a session start
        legacy.update(item)
    await ours.save(legacy)
    with ours.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT count(*) FROM events WHERE sender_id = 'citizen'").scalar()
    mine, rasas = await ours.retrieve("citizen"), await theirs.retrieve("citizen")
    print(json.dumps({{
        "first_session": len(first_session), "rows": rows,
        "same": [e.as_dict() for e in mine.events] == [e.as_dict() for e in rasas.events],
        "latest": len(mine.events), "slot": mine.get_slot("procedure"),
        "legacy_same": [e.as_dict() for e in (await ours.retrieve("no-session")).events]
                       == [e.as_dict() for e in (await theirs.retrieve("no-session")).events],
        "legacy": len((await ours.retrieve("no-session")).events),
        "unknown": await ours.retrieve("nobody"),
    }}))


asyncio.run(main())
"""


def check_tracker_store(url: str, dialect: str) -> None:
    result = run_in_rasa(RASAS_STORE + TRACKER_STORE_CASE.format(url=url, dialect=dialect))
    assert result["first_session"] == 7
    assert result["rows"] == 14  # both sessions, each event once
    assert result["same"] and result["latest"] == 7 and result["slot"] == "dang-ky-khai-sinh"
    assert result["legacy_same"] and result["legacy"] == 5
    assert result["unknown"] is None


def test_tracker_store_reads_and_writes_what_rasas_store_does(tracker_url):
    check_tracker_store(*tracker_url)


def test_endpoint_requests_share_one_connection():
    result = run_in_rasa("""
import asyncio, json
from aiohttp import web
from rasa_addons import speedups
from rasa.utils.endpoints import EndpointConfig
speedups.install()

async def main():
    peers = []

    async def webhook(request):
        peers.append(request.transport.get_extra_info("peername")[1])
        return web.json_response({"echo": (await request.json())["n"]})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
    answers = [await endpoint.request(json={"n": n}) for n in range(3)]
    await runner.cleanup()
    print(json.dumps({"answers": answers, "connections": len(set(peers))}))

asyncio.run(main())
""")
    assert result["answers"] == [{"echo": 0}, {"echo": 1}, {"echo": 2}]
    assert result["connections"] == 1


def test_a_turn_that_meets_an_unreachable_action_server_is_noted_and_not_saved(tmp_path):
    """The gateway channel answers 503 for such a turn (the gateway asks again later), so the
    tracker must not keep it: the question is asked again from the same state."""
    result = run_in_rasa(f"""
import asyncio, json, socket
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa_addons import gateway_channel, outages
from rasa_addons.tracker_store import GatewaySQLTrackerStore

with socket.socket() as closed:  # a port nothing listens on: the action server is down
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]


async def saved_events(note_an_outage):
    store = GatewaySQLTrackerStore(domain=Domain.empty(), host="sqlite:///{tmp_path}/tracker.db", dialect="sqlite")
    sender = "noted" if note_an_outage else "answered"
    tracker = DialogueStateTracker(sender, [])
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("lam khai sinh", {{"name": "ask_documents", "confidence": 0.9}}))
    noted = outages.watch()
    if note_an_outage:
        action = RemoteAction("action_answer", EndpointConfig(f"http://127.0.0.1:{{port}}/webhook"))
        try:
            await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({{}}), tracker,
                             Domain.empty())
        except Exception:
            pass  # Rasa's processor logs it and carries on
    await store.save(tracker)
    stored = await store.retrieve(sender)
    return noted, 0 if stored is None else len(stored.events)


async def main():
    noted, kept = await saved_events(True)
    clean, saved = await saved_events(False)
    print(json.dumps({{"noted": noted, "kept": kept, "clean": clean, "saved": saved}}))

asyncio.run(main())
""")
    assert result["noted"] == ["action server (action_answer)"] and result["kept"] == 0
    assert result["clean"] == [] and result["saved"] == 2


def test_the_model_loads_eagerly_then_predicts_in_graph_mode():
    """rasa_addons.lean_load: the load's one training step runs eagerly, so its graph is never kept
    (about 350 MB a replica); prediction is back in graph mode, traced by the warm-up parse."""
    result = run_in_rasa("""
import asyncio, json
from types import SimpleNamespace
import tensorflow as tf
import rasa.core.agent, rasa.core.run
from rasa.core.utils import AvailableEndpoints
from rasa_addons import lean_load

modes = []
load_agent = rasa.core.agent.load_agent
async def recording(*args, **kwargs):
    modes.append(tf.config.functions_run_eagerly())
    return await load_agent(*args, **kwargs)
rasa.core.agent.load_agent = recording
lean_load.install()

async def main():
    app = SimpleNamespace(ctx=SimpleNamespace())
    agent = await rasa.core.run.load_agent_on_start("models/current.tar.gz", AvailableEndpoints(), None, app,
                                                    asyncio.get_running_loop())
    parsed = await agent.parse_message("dang ky khai sinh can giay to gi")
    return {"eager_while_loading": modes, "eager_after": tf.config.functions_run_eagerly(),
            "intent": parsed["intent"]["name"]}
print(json.dumps(asyncio.run(main())))
""")
    assert result["eager_while_loading"] == [True]
    assert result["eager_after"] is False
    assert result["intent"] == "ask_documents"
