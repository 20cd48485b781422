"""Code that runs inside Rasa (Python 3.10 environment), exercised there."""
import json
import subprocess

from tests.conftest import ROOT

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


def run_in_rasa(code: str) -> dict:
    done = subprocess.run([str(RASA_PYTHON), "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false", "PATH": "/usr/bin:/bin"})
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
