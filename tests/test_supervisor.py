"""`make run`'s supervisor: a service that dies is started again (with backoff), and everything it
starts stops with it, by process group."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from bot.cli_errors import RASA_ENV
from bot.settings import Settings
from bot.supervisor import Backoff, Service, Stack, lock_store_env, tracker_dialect
from tests.ports import free_port
from tests.waiting import wait_until


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_tracker_dialect():
    assert tracker_dialect("sqlite:////x/rasa.db") == "sqlite"
    assert tracker_dialect("postgresql+psycopg2://u@h/db") == "postgresql"


def test_rasa_locks_go_to_redis_when_there_is_one():
    assert lock_store_env("")["RASA_LOCK_STORE"] == "in_memory"
    assert lock_store_env("redis://:pw@10.0.0.5:6390/2") == {
        "RASA_LOCK_STORE": "redis",
        "RASA_LOCK_HOST": "10.0.0.5",
        "RASA_LOCK_PORT": "6390",
        "RASA_LOCK_DB": "2",
        "RASA_LOCK_PASSWORD": "pw",
    }


def test_a_killed_replicas_rasa_lock_outlives_a_turn_but_not_rasas_default_minute(tmp_path):
    settings = Settings(var_dir=tmp_path, rasa_timeout_s=30)
    env = Stack(settings).env
    assert settings.rasa_timeout_s < int(env["TICKET_LOCK_LIFETIME"]) < 60
    read = subprocess.run(  # the name Rasa itself reads
        [
            str(RASA_ENV / "bin" / "python"),
            "-c",
            "from rasa.core.lock_store import LOCK_LIFETIME; print(LOCK_LIFETIME)",
        ],
        env={"TICKET_LOCK_LIFETIME": env["TICKET_LOCK_LIFETIME"], "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    )
    assert read.stdout.strip() == env["TICKET_LOCK_LIFETIME"]


def test_backoff_doubles_up_to_thirty_seconds_and_starts_over_after_a_minute_up():
    backoff = Backoff()
    assert [backoff.after_exit(up_for_s=2) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.after_exit(up_for_s=61) == 1
    assert backoff.after_exit(up_for_s=0) == 2


def test_an_exited_service_waits_its_backoff_then_gets_a_new_process_and_pid_file(tmp_path):
    stack = Stack(Settings(var_dir=tmp_path))
    stack.services = [Service("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"])]
    restarts = []
    stack.announce = restarts.append
    stack.start()
    try:
        first = stack.services[0].process
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        now = time.monotonic()
        stack.supervise_once(now)  # noticed: restart in 1 s
        stack.supervise_once(now + 0.5)
        assert stack.services[0].process is first
        stack.supervise_once(now + 1)
        second = stack.services[0].process
        assert second is not first and second.poll() is None
        assert (stack.run_dir / "sleeper.pid").read_text() == str(second.pid)
        log = (stack.log_dir / "supervisor.log").read_text()
        assert f"sleeper (pid {first.pid}) exited with code -9" in log and "restarting in 1 s" in log
        assert f"sleeper restarted (pid {second.pid}, restart 1)" in log
        assert len(restarts) == 2 and restarts[-1] in log
    finally:
        stack.stop()
    assert not alive(second.pid)


def test_a_killed_action_server_is_restarted_and_all_stop_without_orphans(loaded_db, tmp_path):
    settings = Settings(
        var_dir=tmp_path,
        database_url=loaded_db.db_url,
        rasa_tracker_url=f"sqlite:///{tmp_path / 'tracker.db'}",
        gateway_port=free_port(),
        rasa_port=free_port(consecutive=8),
        actions_port=free_port(),
    )
    stack = Stack(settings)
    stack.start()
    pids = [s.process.pid for s in stack.services]
    try:
        ready = stack.wait_ready()
        assert ready["ready"] is True
        assert all((stack.run_dir / f"{s.name}.pid").read_text() == str(s.process.pid) for s in stack.services)
        stack.supervise()
        actions = stack.service("actions")
        killed = actions.process.pid
        os.killpg(killed, signal.SIGKILL)

        def serving_again() -> bool:
            if actions.process.pid == killed:
                return False
            try:
                return httpx.get(f"{settings.actions_url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(serving_again, "the action server did not answer again from a new process", timeout_s=60)
        pids.append(actions.process.pid)
        assert (stack.run_dir / "actions.pid").read_text() == str(actions.process.pid)
        assert "actions restarted" in (stack.log_dir / "supervisor.log").read_text()
        assert stack.wait_ready(timeout_s=30)["ready"] is True
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
    settings = Settings(
        var_dir=tmp_path,
        database_url=loaded_db.db_url,
        rasa_token="-token-with-a-dash",
        actions_secret="actions-secret",
        rasa_replicas=2,
        gateway_replicas=2,
    )
    stack = Stack(settings)
    assert stack.env["RASA_TOKEN"] == "-token-with-a-dash" and stack.env["ACTIONS_SECRET"] == "actions-secret"
    for service in stack.services:
        assert not any(secret in arg for arg in service.argv for secret in ("-token-with-a-dash", "actions-secret"))


def test_gateway_replicas_listen_on_the_ports_after_the_first(loaded_db, tmp_path):
    settings = Settings(var_dir=tmp_path, database_url=loaded_db.db_url, gateway_port=9100, gateway_replicas=2)
    stack = Stack(settings)
    assert [s.name for s in stack.services if s.name.startswith("gateway")] == ["gateway-0", "gateway-1"]
    assert stack.gateway_urls == ["http://127.0.0.1:9100", "http://127.0.0.1:9101"]
    assert stack.gateway_url == "http://127.0.0.1:9100"
