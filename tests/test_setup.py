"""The setup scripts `make run` and `make test` rely on."""

import subprocess

from tests.conftest import ROOT


def test_setup_stops_with_a_clear_message_without_python310(tmp_path):
    done = subprocess.run(
        [str(ROOT / "scripts/find-python310")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHON310": ""},
    )
    assert done.returncode == 1 and "Python 3.10 was not found" in done.stderr and "pyenv install 3.10" in done.stderr


def test_rasa_test_fails_below_the_nlu_pass_mark(tmp_path):
    report = tmp_path / "intent_report.json"
    report.write_text('{"accuracy": 0.9564, "weighted avg": {"f1-score": 0.956}}')

    def verdict(pass_mark: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(ROOT / "scripts/nlu-pass-mark"), str(report), pass_mark], capture_output=True, text=True
        )

    assert verdict("0.93").returncode == 0
    below = verdict("0.96")
    assert below.returncode == 1 and "0.9564" in below.stdout and "FAIL" in below.stdout
    makefile = (ROOT / "Makefile").read_text()
    assert "NLU_PASS_MARK ?= 0.93" in makefile
    assert "$(APP) scripts/nlu-pass-mark var/results/nlu/intent_report.json $(NLU_PASS_MARK)" in makefile
