"""The deletion list: who used `/vergeet`, kept outside the database so a restore cannot undo it.

A backup made before someone asked to be forgotten still holds their words; restoring it would
bring them back. So each deletion is also written to a file beside the database (or where
`KERN_COACH_FORGOTTEN_FILE` says), which a restore of the database does not replace, and at
start-up every person on the list whose row was created before their deletion is deleted again.
Someone who comes back after `/vergeet` starts a new row, created later, which is left alone.

The list holds no content and no platform id: per deletion, a keyed hash (HMAC-SHA256) of the
channel and the platform id, and the moment. The key is `KERN_COACH_FORGOTTEN_KEY`, or a random
one created once in a file beside the list (`<list>.key`, readable by the coach only). Without the
key, a line says nothing about whom it stands for. Lines older than KEEP are dropped: by then
every backup from before that deletion has expired (see docs/operating.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.storage import store
from bot.storage.models import OutboxRow, Person

log = logging.getLogger(__name__)

KEEP = timedelta(days=400)  # longer than the longest backup retention we advise (a year)


@dataclass(frozen=True)
class Entry:
    digest: str
    at: datetime


class DeletionList:
    def __init__(self, path: Path, key: bytes | None = None):
        self.path = path
        self._key = key

    @classmethod
    def beside(
        cls, database_url: str, path: str | None = None, key: str | None = None
    ) -> DeletionList:
        """The list for this database: the file named by the setting, else `<db file>.forgotten`
        beside a SQLite file, else `kern-coach.forgotten` in the working directory."""
        if path:
            where = Path(path)
        else:
            url = sa.engine.make_url(database_url)
            if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
                database = Path(url.database)
                where = database.with_name(database.name + ".forgotten")
            else:
                where = Path.cwd() / "kern-coach.forgotten"
        return cls(where, key.encode() if key else None)

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = _key_file(self.path.with_name(self.path.name + ".key"))
        return self._key

    def digest(self, channel: str, address: str) -> str:
        message = f"{channel}\n{address}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def add(self, channel: str, address: str, at: datetime) -> None:
        """Written and flushed to disk before the deletion commits: a deletion the list does
        not know could come back with a restore."""
        line = f"{self.digest(channel, address)} {at.isoformat()}\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(descriptor, line.encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def entries(self) -> list[Entry]:
        if not self.path.exists():
            return []
        found = []
        for number, line in enumerate(self.path.read_text(encoding="ascii").splitlines(), 1):
            digest, _, moment = line.strip().partition(" ")
            if not digest:
                continue
            try:
                found.append(Entry(digest, datetime.fromisoformat(moment)))
            except ValueError:
                log.warning("deletion list line %d cannot be read; ignored", number)
        return found

    def apply(self, engine: sa.Engine, now: datetime) -> int:
        """Delete again everyone on the list whose row predates their deletion (a restore
        brought them back), and drop lines older than KEEP. Returns how many were deleted."""
        entries = self.entries()
        if not entries:
            return 0
        latest: dict[str, datetime] = {}
        for entry in entries:
            latest[entry.digest] = max(entry.at, latest.get(entry.digest, entry.at))
        deleted = 0
        with Session(engine, expire_on_commit=False) as session, session.begin():
            for person in session.exec(select(Person)).all():
                assert person.id is not None
                at = latest.get(self.digest(person.channel, person.address))
                if at is not None and person.created_at <= at:
                    store.delete_person(session, person.id)
                    session.execute(
                        sa.delete(OutboxRow).where(
                            col(OutboxRow.channel) == person.channel,
                            col(OutboxRow.address) == person.address,
                        )
                    )
                    deleted += 1
        if deleted:
            from bot.storage import db

            db.checkpoint(engine)
            log.warning("%d person(s) deleted again: they used /vergeet after this backup", deleted)
        kept = [e for e in entries if e.at > now - KEEP]
        if len(kept) < len(entries):
            self._rewrite(kept)
        return deleted

    def _rewrite(self, entries: list[Entry]) -> None:
        temporary = self.path.with_name(self.path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.writelines(f"{e.digest} {e.at.isoformat()}\n" for e in entries)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)


def _key_file(path: Path) -> bytes:
    """The key in this file, created (random, 32 bytes, mode 0600) if there is none."""
    with contextlib.suppress(FileNotFoundError):
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it just now
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    key = secrets.token_bytes(32)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(key.hex() + "\n")
        file.flush()
        os.fsync(file.fileno())
    return key
