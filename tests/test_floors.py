"""Imports point down the floors of DESIGN.md: nothing imports a floor above its own. Modules the
picture does not place (the gateway's guards, the supervisor, …) are not checked."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = {  # module prefix → floor (1 is the top)
    "bot.app": 1,
    "bot.channels": 2,
    "bot.router": 3,
    "bot.console": 3,
    "bot.admin": 3,
    "actions": 3,
    "bot.delivery": 4,
    "bot.knowledge": 4,
    "bot.guide": 4,
    "bot.rasa_client": 4,
    "bot.handoff": 4,
    "rasa_addons": 4,
    "bot.text": 5,
    "bot.storage": 5,
    "bot.events": 5,
    "bot.messages": 5,
    "bot.settings": 5,
}


def floor_of(module: str) -> int | None:
    for prefix, floor in FLOORS.items():
        if module == prefix or module.startswith(prefix + "."):
            return floor
    return None


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_no_module_imports_a_floor_above_its_own():
    upward = []
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("actions/**/*.py"), *ROOT.glob("rasa_addons/**/*.py")]:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        mine = floor_of(module)
        if mine is None:
            continue
        upward += [
            f"{module} → {name}"
            for name in imports_of(path)
            if (theirs := floor_of(name)) is not None and theirs < mine
        ]
    assert upward == []


def test_the_check_sees_an_upward_import():
    assert floor_of("bot.admin.inbox") == 3 and floor_of("bot.channels.web") == 2
    assert floor_of("bot.adminx") is None and floor_of("bot.text.masking") == 5
