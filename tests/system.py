"""Tests that need a Debian package (Chromium, PostgreSQL, Redis): `make test` installs them
(scripts/system-deps), so in CI a missing one is a failure; elsewhere the test is skipped."""

import os

import pytest


def require(present: bool, package: str) -> None:
    if present:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{package} is missing: `make test` installs it (scripts/system-deps)")
    pytest.skip(f"{package} is not installed (scripts/system-deps installs it)")
