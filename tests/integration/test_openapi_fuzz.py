"""The gateway's OpenAPI fuzzed with schemathesis against the full stack (issue 12): whatever the
input, no 500, and no other 5xx than those the OpenAPI documents (`/readyz`'s 503); the check is
in openapi_fuzz_checks.py. Console routes are fuzzed logged in (a staff account), so their bodies
and ids are reached, not only the 401."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from bot.console import auth
from bot.storage.db import session_scope

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_PER_OPERATION = 30
# the chat's event stream never ends; logging out would end the fuzzing session halfway
NOT_FUZZED = ("/api/chat/stream", "/console/api/logout")


def staff_session(url: str) -> tuple[str, str]:
    with session_scope() as session:
        auth.create_account(session, "fuzz-staff", "Fuzz", "mat-khau-fuzz-123", role="staff")
    response = httpx.post(f"{url}/console/api/login", json={"username": "fuzz-staff", "password": "mat-khau-fuzz-123"})
    assert response.status_code == 200, response.text
    return response.cookies[auth.COOKIE], response.json()["csrf"]


def test_no_server_error_the_openapi_does_not_document(stack):
    cookie, csrf = staff_session(stack.gateway_url)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{stack.gateway_url}/openapi.json",
        "--checks",
        "no_undocumented_server_error",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        "12",
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--no-color",
        "-H",
        f"Cookie: {auth.COOKIE}={cookie}",
        "-H",
        f"{auth.CSRF_HEADER}: {csrf}",
    ]
    for path in NOT_FUZZED:
        command += ["--exclude-path", path]
    run = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.integration.openapi_fuzz_checks", "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
