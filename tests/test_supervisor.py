"""`make run`'s supervisor: everything it starts stops with it, by process group."""
import os

import pytest

from bot.settings import Settings
from bot.supervisor import Stack, tracker_dialect
from tests.ports import free_port


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_tracker_dialect():
    assert tracker_dialect("sqlite:////x/rasa.db") == "sqlite"
    assert tracker_dialect("postgresql+psycopg2://u@h/db") == "postgresql"


def test_a_second_stack_starts_and_stops_without_orphans(loaded_db, tmp_path):
    settings = Settings(
        var_dir=tmp_path, database_url=loaded_db.db_url, rasa_tracker_url=f"sqlite:///{tmp_path / 'tracker.db'}",
        gateway_port=free_port(), rasa_port=free_port(consecutive=8), actions_port=free_port(),
    )
    stack = Stack(settings)
    stack.start()
    pids = [s.process.pid for s in stack.services]
    try:
        ready = stack.wait_ready()
        assert ready["ready"] is True
        assert all((stack.run_dir / f"{s.name}.pid").read_text() == str(s.process.pid) for s in stack.services)
    finally:
        stack.stop()
    assert not any(alive(pid) for pid in pids)
    assert not any((stack.run_dir / f"{s.name}.pid").exists() for s in stack.services)
    for pid in pids:  # nothing left in any of the process groups either
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)


def test_tensorflow_gets_one_thread_per_rasa_replica_unless_the_operator_sets_it(loaded_db, tmp_path, monkeypatch):
    settings = Settings(var_dir=tmp_path, database_url=loaded_db.db_url)
    for name in ("TF_INTER_OP_PARALLELISM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS"):
        monkeypatch.delenv(name, raising=False)
        assert Stack(settings).env[name] == "1"
        monkeypatch.setenv(name, "4")
        assert Stack(settings).env[name] == "4"


def test_secrets_reach_the_services_by_environment_never_by_command_line(loaded_db, tmp_path):
    settings = Settings(var_dir=tmp_path, database_url=loaded_db.db_url, rasa_token="-token-with-a-dash",
                        actions_secret="actions-secret", rasa_replicas=2)
    stack = Stack(settings)
    assert stack.env["RASA_TOKEN"] == "-token-with-a-dash" and stack.env["ACTIONS_SECRET"] == "actions-secret"
    for service in stack.services:
        assert not any(secret in arg for arg in service.argv for secret in ("-token-with-a-dash", "actions-secret"))
