"""The environments' locks (requirements/*.lock, pip-tools with hashes) and what the code imports:
the serving environments carry no torch and no CUDA, every pin is hashed, and every package the
code imports is declared in pyproject.toml for the environment that runs it."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

import pytest

from tests.conftest import ROOT

LOCKS = ROOT / "requirements"
SERVING = ("runtime.lock", "rasa.lock")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
LOCAL = {"bot", "actions", "rasa_addons", "tests", "benchmarks", "common", "long_conversation"}
# Installed in the model environment only (tests/model checks them there), so not found here.
MODEL_ONLY = {"torch": "torch", "sentence_transformers": "sentence-transformers", "tqdm": "tqdm"}


def pins(lock: str) -> dict[str, str]:
    """Package name → the whole requirement (continuation lines joined)."""
    text = (LOCKS / lock).read_text().replace("\\\n", " ")
    return {m.group(1).lower().replace("_", "-"): line for line in text.splitlines() if (m := PIN.match(line))}


def declared() -> dict[str, set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    name = re.compile(r"^[A-Za-z0-9._-]+")
    groups = {"runtime": project["dependencies"], **project["optional-dependencies"]}
    return {group: {name.match(r).group(0).lower().replace("_", "-") for r in reqs} for group, reqs in groups.items()}


def imported(*folders: str) -> set[str]:
    """Top-level names of third-party modules imported by the Python files under the folders."""
    names = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in LOCAL}


def distribution_of(module: str) -> str:
    found = packages_distributions().get(module) or [MODEL_ONLY.get(module, "")]
    return found[0].lower().replace("_", "-")


@pytest.mark.parametrize("lock", SERVING)
def test_serving_locks_have_no_torch_and_no_cuda(lock):
    names = pins(lock)
    assert names, f"{lock} pins nothing"
    assert not [n for n in names if n == "torch" or n.startswith(("nvidia-", "triton"))]


@pytest.mark.parametrize("lock", ["runtime.lock", "test.lock", "model.lock", "rasa.lock"])
def test_every_pin_is_hashed(lock):
    unhashed = [line.split()[0] for line in pins(lock).values() if "--hash=sha256:" not in line]
    assert unhashed == []


def test_the_model_lock_leaves_torch_to_its_cpu_install():
    names = pins("model.lock")
    assert "sentence-transformers" in names and "torch" not in names
    assert not [n for n in names if n.startswith("nvidia-")]


def test_the_runtime_lock_carries_no_test_tools():
    assert not set(pins("runtime.lock")) & {"pytest", "playwright", "hypothesis", "schemathesis", "ruff"}


def test_every_imported_package_is_declared_where_it_runs():
    groups = declared()
    serving = {m: distribution_of(m) for m in imported("bot", "actions")}
    undeclared = {m: d for m, d in serving.items() if d not in groups["runtime"] | groups["model"]}
    assert undeclared == {}, "imported by the app but not in [project] dependencies"
    model_only = {m for m, d in serving.items() if d not in groups["runtime"]}
    assert model_only <= set(MODEL_ONLY) | {"sklearn"}, "only model code may import the model extra"
    testing = {m: distribution_of(m) for m in imported("tests", "benchmarks")}
    known = groups["runtime"] | groups["test"] | groups["model"]
    assert {m: d for m, d in testing.items() if d not in known} == {}
