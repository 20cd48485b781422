"""The setup scripts `make run` and `make test` rely on."""
import subprocess

from tests.conftest import ROOT


def test_setup_stops_with_a_clear_message_without_python310(tmp_path):
    done = subprocess.run(
        [str(ROOT / "scripts/find-python310")], capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHON310": ""},
    )
    assert done.returncode == 1 and "Python 3.10 was not found" in done.stderr and "pyenv install 3.10" in done.stderr
