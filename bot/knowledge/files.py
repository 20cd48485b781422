"""Read and validate the knowledge files; errors name the file, the field and the line."""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.knowledge.schema import CannedReplies, OfficeBook, Outside, Procedure


@dataclass(frozen=True)
class KnowledgeError(Exception):
    path: Path
    field: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.field or '<file>'}: {self.message}"


def _node_line(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Walk the YAML node tree along a pydantic error location; return the deepest known line."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _read(path: Path, model: type, wrap: str | None = None):
    """Read and validate one file; `wrap` names the field a file holding a bare list fills."""
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise KnowledgeError(path, "", mark.line + 1 if mark else None, str(exc).splitlines()[0]) from exc
    try:
        return model.model_validate({wrap: data} if wrap else data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])[1 if wrap else 0 :]
        field = ".".join(str(p) for p in loc)
        raise KnowledgeError(path, field, _node_line(root, loc), first["msg"]) from exc


def read_procedure(path: Path) -> Procedure:
    entry = _read(path, Procedure)
    if entry.slug != path.stem:
        raise KnowledgeError(path, "slug", 1, f"slug {entry.slug!r} differs from the file name")
    return entry


def read_offices(path: Path) -> OfficeBook:
    return _read(path, OfficeBook)


def read_outside(path: Path) -> Outside:
    return _read(path, Outside)


def read_canned(path: Path) -> CannedReplies:
    """The volunteers' canned replies: a YAML list of {title, text}."""
    return _read(path, CannedReplies, wrap="replies")


def dump_yaml(data: Any) -> str:
    """YAML as people write the knowledge files: Vietnamese as is, fields in the schema's order."""
    # one line per text, never folded: a diff shows what changed, not a reflowed paragraph
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=4096)


def yaml_diff(before: dict[str, Any], after: dict[str, Any], before_name: str, after_name: str) -> str:
    """A unified diff of two entries as their YAML files read: what a reviewer is shown."""
    return "".join(
        difflib.unified_diff(
            dump_yaml(before).splitlines(keepends=True),
            dump_yaml(after).splitlines(keepends=True),
            fromfile=before_name,
            tofile=after_name,
        )
    )


def read_all(root: Path) -> tuple[list[Procedure], OfficeBook]:
    procedures = [read_procedure(p) for p in sorted((root / "procedures").glob("*.yaml"))]
    return procedures, read_offices(root / "offices.yaml")


if __name__ == "__main__":  # `python3 -m bot.knowledge.files FILE…`: validate files while writing them
    failed = 0
    for name in sys.argv[1:]:
        path = Path(name)
        try:
            readers = {"offices.yaml": read_offices, "topics.yaml": read_outside, "canned_replies.yaml": read_canned}
            readers.get(path.name, read_procedure)(path)
            print(f"ok   {path}")
        except KnowledgeError as err:
            failed += 1
            print(f"FAIL {err}")
    sys.exit(1 if failed else 0)
