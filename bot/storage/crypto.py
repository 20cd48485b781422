"""Citizens' and volunteers' texts encrypted at rest (Fernet, from `cryptography`).

The key ring is DATA_KEY (comma-separated Fernet keys, the first one current) or, when that is
empty, the file `<VAR_DIR>/data_key` (same format; created 0600 on first use). Every key of the
ring decrypts, only the first encrypts: rotation is adding a new key in front, restarting, then
`python -m bot keys rotate`.

A stored value is `enc:` followed by a Fernet token; anything else is a row written before
encryption (read as it is, and encrypted by migration 0011). Empty texts and NULLs stay as they
are: they say nothing, and filters such as `text != ''` keep working.

Also imported by Rasa's tracker store (rasa_addons), whose environment has SQLAlchemy 1.4 and no
app settings: nothing here reads the app's settings at import time.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text, text
from sqlalchemy.sql import ClauseElement, operators
from sqlalchemy.types import TypeDecorator

PREFIX = "enc:"
KEY_FILE = "data_key"
BATCH_ROWS = 500  # rows re-encrypted per transaction: short locks while the bot keeps serving

log = logging.getLogger(__name__)


class DataKeyError(InvalidToken):
    """The data key is malformed or does not open what is stored: an operator's fix, said in one line."""


class KeyRing:
    """Encrypts with the first key, decrypts with any."""

    def __init__(self, keys: list[str]):
        if not keys:
            raise DataKeyError("no data key: set DATA_KEY (`python -m bot keys new` prints one)")
        try:
            fernets = [Fernet(key) for key in keys]
        except ValueError:
            raise DataKeyError(
                "the data key (DATA_KEY or var/data_key) is not a valid key: `python -m bot keys new` prints one"
            ) from None
        self._current = fernets[0]
        self._all = MultiFernet(fernets)

    def encrypt(self, value: str) -> str:
        return PREFIX + self._current.encrypt(value.encode()).decode()

    def decrypt(self, value: str) -> str:
        if not is_encrypted(value):
            return value  # written before encryption
        try:
            return self._all.decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise DataKeyError(
                "a stored value was encrypted with a key the data key ring does not hold: "
                "put the old key back in DATA_KEY, after the current one"
            ) from None

    def is_current(self, value: str) -> bool:
        """Encrypted with the current key (rotation leaves it alone)."""
        try:
            self._current.decrypt(value[len(PREFIX) :].encode())
        except InvalidToken:
            return False
        return True


def is_encrypted(value: str) -> bool:
    return value.startswith(PREFIX)


def parse_keys(configured: str) -> list[str]:
    return [key for key in configured.replace(",", " ").split() if key]


def new_key() -> str:
    return Fernet.generate_key().decode()


def key_file_of(var_dir: Path) -> Path:
    """The key file, created with a new key (0600, atomically: Rasa and the gateway may start
    together) when there is none. Says where, once: the key must be backed up."""
    path = var_dir / KEY_FILE
    if path.exists():
        return path
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    draft = var_dir / f".{KEY_FILE}.{os.getpid()}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(new_key() + "\n")
    try:
        os.link(draft, path)  # fails when another process made one first: theirs is kept
        log.warning(
            "created the data key %s (records are encrypted with it): back it up, without it "
            "the conversations cannot be read",
            path,
        )
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path


def configured_keys(configured: str, var_dir: Path) -> list[str]:
    """The keys of DATA_KEY, or of the key file under `var_dir` when DATA_KEY is empty."""
    return parse_keys(configured) or parse_keys(key_file_of(var_dir).read_text())


@lru_cache
def ring_for(configured: str, var_dir: Path) -> KeyRing:
    return KeyRing(configured_keys(configured, var_dir))


def current_ring() -> KeyRing:
    """The app's ring, from its settings."""
    from bot.settings import get_settings

    settings = get_settings()
    return ring_for(settings.data_key.get_secret_value(), settings.var_dir)


def ring_from_environment(default_var_dir: Path) -> KeyRing:
    """The ring of a process started by the supervisor (Rasa): DATA_KEY or VAR_DIR's key file."""
    return ring_for(os.environ.get("DATA_KEY", ""), Path(os.environ.get("VAR_DIR") or default_var_dir))


class SealedComparator(TypeDecorator.Comparator):
    """A query cannot look into an encrypted column (a token never equals nor contains the text):
    it may only compare with '' or NULL; any other value is an error rather than a silent miss.
    (SQL expressions pass: the ORM compares columns with parameters of its own.)"""

    def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
        searched = [value for value in other if not isinstance(value, ClauseElement)]
        emptiness = op in (operators.eq, operators.ne, operators.is_, operators.is_not)
        if searched and not (emptiness and all(value is None or value == "" for value in searched)):
            raise TypeError(f"an encrypted column cannot be searched ({op.__name__}): filter in Python after reading")
        return super().operate(op, *other, **kwargs)


class EncryptedText(TypeDecorator):
    """A text column stored encrypted."""

    impl = Text
    cache_ok = True
    comparator_factory = SealedComparator

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return current_ring().encrypt(value) if value else value

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return current_ring().decrypt(value) if value else value


class EncryptedJSON(TypeDecorator):
    """A JSON value stored as encrypted JSON text (a clear row is plain JSON text)."""

    impl = Text
    cache_ok = True
    comparator_factory = SealedComparator

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else current_ring().encrypt(json.dumps(value, ensure_ascii=False))

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(current_ring().decrypt(value))


def reencrypt_column(
    connection_of: Callable[[], Any], table: str, column: str, ring: KeyRing, needs: Callable[[str], bool]
) -> int:
    """Encrypt with the ring's current key the values of `table.column` that `needs` picks, in
    batches of BATCH_ROWS, each its own transaction (`connection_of` gives a context manager of
    one transaction). A value changed meanwhile by the app is left as the app wrote it (already
    with the current key). Returns how many changed."""
    select_batch = text(
        f"SELECT id, {column} FROM {table} WHERE id > :after AND {column} IS NOT NULL "
        f"AND {column} <> '' ORDER BY id LIMIT {BATCH_ROWS}"
    )
    update_one = text(f"UPDATE {table} SET {column} = :new WHERE id = :id AND {column} = :old")
    changed, after = 0, 0
    while True:
        with connection_of() as connection:
            rows = connection.execute(select_batch, {"after": after}).all()
            updates = [
                {"id": row_id, "old": value, "new": ring.encrypt(ring.decrypt(value))}
                for row_id, value in rows
                if needs(value)
            ]
            for update in updates:
                changed += connection.execute(update_one, update).rowcount
        if len(rows) < BATCH_ROWS:
            return changed
        after = rows[-1][0]


def clear_values(value: str) -> bool:
    return not is_encrypted(value)


def not_current(ring: KeyRing) -> Callable[[str], bool]:
    return lambda value: not is_encrypted(value) or not ring.is_current(value)


def encrypted_columns(metadata: Any) -> Iterator[tuple[str, str]]:
    """(table, column) of every encrypted column of these models."""
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, (EncryptedText, EncryptedJSON)):
                yield table.name, column.name
