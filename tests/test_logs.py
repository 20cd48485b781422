"""Log lines an operator can read (bot/logs.py): a real gateway's lines carry time, level, logger
and our conversation number, in text and in JSON, and never the citizen's words or channel id;
log files rotate, the supervisor's captured output too."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot import logs
from bot.settings import Settings
from bot.storage import crypto
from bot.storage.db import session_scope
from bot.storage.models import Citizen, Conversation
from bot.supervisor import private_file, rotate_captured
from tests.ports import free_port
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
CITIZEN_TEXT = "tôi tên Trần Thị Mai, căn cước 001234567890, muốn làm hộ chiếu"
TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"[\w.]+( \[conversation (\d+)\])? "
)


def gateway_lines(loaded_db, tmp_path: Path, log_format: str) -> tuple[list[str], str]:
    """A real gateway whose Rasa does not answer (the message is kept for later, the router logs
    its turn), run as the supervisor runs it: its output captured in a file. Returns that file's
    lines once the turn is logged, and the citizen's web id."""
    port = free_port()
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": loaded_db.db_url,
        # the session's key: what this gateway stores in the session's database stays readable
        "DATA_KEY": ",".join(crypto.configured_keys(loaded_db.data_key.get_secret_value(), loaded_db.var_dir)),
        "REDIS_URL": "",
        "RASA_SERVERS": f"http://127.0.0.1:{free_port()}",
        "LOG_FORMAT": log_format,
        "LOG_LEVEL": "INFO",
    }
    output = tmp_path / "gateway-0.log"
    with output.open("w") as captured:
        gateway = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bot.app:create_app",
                "--factory",
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
            stdout=captured,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: answers(f"{base}/healthz") or gateway.poll() is not None, "the gateway did not start", timeout_s=120
        )
        assert gateway.poll() is None, output.read_text(encoding="utf-8")
        sender = httpx.post(f"{base}/api/chat/session", timeout=10).json()["sender_id"]
        reply = httpx.post(f"{base}/api/chat", json={"sender_id": sender, "text": CITIZEN_TEXT}, timeout=30)
        assert reply.status_code == 200, reply.text
        wait_until(lambda: '"turn"' in output.read_text(encoding="utf-8"), "no turn was logged", timeout_s=30)
    finally:
        gateway.terminate()
        gateway.wait(30)
    return output.read_text(encoding="utf-8").splitlines(), sender


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def conversation_of(sender: str) -> int:
    with session_scope() as session:
        return session.scalars(
            select(Conversation.id)
            .join(Citizen, Conversation.citizen_id == Citizen.id)
            .where(Citizen.channel_user_id == sender)
        ).one()


def assert_nothing_of_the_citizen(lines: list[str], sender: str) -> None:
    for secret in ("Trần Thị Mai", "001234567890", "hộ chiếu", sender):
        assert not any(secret in line for line in lines), secret


def test_text_lines_have_time_level_logger_and_the_conversation_number(loaded_db, tmp_path):
    lines, sender = gateway_lines(loaded_db, tmp_path, "text")
    assert lines and all(TEXT_LINE.match(line) for line in lines), lines  # uvicorn's own lines too
    turn = next(line for line in lines if '"event": "turn"' in line)
    assert " INFO bot.turn [conversation " in turn
    number = int(TEXT_LINE.match(turn).group(3))
    assert number == conversation_of(sender) == json.loads(turn[turn.index("{") :])["conversation"]
    deferred = next(line for line in lines if "deferred: rasa unavailable" in line)
    assert f" WARNING bot.turn [conversation {number}] " in deferred
    assert_nothing_of_the_citizen(lines, sender)


def test_json_lines_are_objects_with_the_turn_merged_in(loaded_db, tmp_path):
    lines, sender = gateway_lines(loaded_db, tmp_path, "json")
    records = [json.loads(line) for line in lines]
    assert records and all({"time", "level", "logger", "conversation"} <= set(r) for r in records)
    turn = next(r for r in records if r.get("event") == "turn")
    assert turn["logger"] == "bot.turn" and turn["level"] == "INFO" and "message" not in turn
    assert turn["conversation"] == conversation_of(sender) and turn["latency_ms"] >= 0
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$", turn["time"])
    started = next(r for r in records if r["logger"].startswith("uvicorn"))
    assert started["conversation"] is None and "message" in started
    assert_nothing_of_the_citizen(lines, sender)


def test_a_conversation_scope_ends_with_its_handler(tmp_path):
    """A polling loop's later lines must not name the last conversation it handled."""
    log_file = tmp_path / "log" / "scoped.log"
    handler = logs.file_handler(Settings(var_dir=tmp_path, log_format="json"), log_file)
    logger = logging.getLogger("tests.scoped")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    @logs.conversation_scope
    async def handle(conversation_id: int) -> None:
        logger.info("before")
        logs.set_conversation(conversation_id)
        logger.info("inside")

    async def loop() -> None:
        await handle(41)
        logger.info("after")

    try:
        asyncio.run(loop())
    finally:
        logger.removeHandler(handler)
        handler.close()
    said = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [(r["message"], r["conversation"]) for r in said] == [("before", None), ("inside", 41), ("after", None)]
    assert log_file.stat().st_mode & 0o777 == 0o600


def test_a_process_log_file_rotates(tmp_path):
    """Run as the CLI is, stderr not a file: lines also go to var/log/<process>.log, rotated at 10 MB."""
    script = (
        "import logging; from bot import logs; from bot.settings import get_settings; "
        "logs.configure(get_settings(), 'rotating'); "
        "[logging.getLogger('bot.test').info('x' * 1000) for _ in range(11000)]"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "VAR_DIR": str(tmp_path)},
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=120,
    )
    current, rotated = tmp_path / "log" / "rotating.log", tmp_path / "log" / "rotating.log.1"
    assert rotated.exists() and 9 * 2**20 < rotated.stat().st_size <= logs.ROTATE_AT_BYTES
    assert 0 < current.stat().st_size < 2 * 2**20
    assert TEXT_LINE.match(rotated.read_text().splitlines()[0])
    assert {current.stat().st_mode & 0o777, rotated.stat().st_mode & 0o777} == {0o600}


def test_a_services_captured_output_is_copied_and_emptied_while_it_writes_on(tmp_path):
    captured = tmp_path / "gateway-0.log"
    with private_file(captured, os.O_APPEND) as service_output:  # the descriptor a service keeps
        service_output.write(b"old line\n" * (logs.ROTATE_AT_BYTES // 9 + 1))
        service_output.flush()
        rotate_captured(captured)
        service_output.write(b"new line\n")
        service_output.flush()
    assert captured.read_bytes() == b"new line\n"
    kept = (tmp_path / "gateway-0.log.1").read_bytes()
    assert len(kept) >= logs.ROTATE_AT_BYTES and set(kept.splitlines()) == {b"old line"}


@pytest.mark.parametrize("size", [0, 100])
def test_small_captured_output_is_left_alone(tmp_path, size):
    captured = tmp_path / "actions.log"
    captured.write_bytes(b"x" * size)
    rotate_captured(captured)
    assert captured.read_bytes() == b"x" * size and not (tmp_path / "actions.log.1").exists()
