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

The first line names the key by a fingerprint (an HMAC of a fixed text), so a lost or changed key
is noticed at start-up instead of silently letting everyone on the list come back: `open()`
refuses to start then, and also when the list or its key cannot be created or written. Writers
take an exclusive lock on `<list>.lock`, so two processes sharing the list lose no line.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.errors import RefusedToStart
from bot.storage import store
from bot.storage.models import OutboxRow, Person

log = logging.getLogger(__name__)

KEEP = timedelta(days=400)  # longer than the longest backup retention we advise (a year)
HEADER = "# kern-coach deletion list; key fingerprint "
FINGERPRINTED = b"kern-coach deletion list key"


class DeletionListError(RefusedToStart):
    """The list cannot be trusted or written: the coach does not start (a message for the
    operator, naming files, never people)."""


@dataclass(frozen=True)
class Entry:
    digest: str
    at: datetime


class DeletionList:
    def __init__(self, path: Path, key: bytes | None = None):
        self.path = path
        self._key = key
        self._key_given = key is not None

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
    def key_path(self) -> Path:
        return self.path.with_name(self.path.name + ".key")

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = _key_file(self.key_path)
        return self._key

    def fingerprint(self) -> str:
        return hmac.new(self.key, FINGERPRINTED, hashlib.sha256).hexdigest()

    def open(self) -> None:
        """At start-up: the list and its key exist, are writable and belong together, or the
        coach refuses to start. A new key for a list that has lines would let each of those
        people come back with an old backup, and a list that cannot be written would only be
        noticed when someone asks to be forgotten."""
        try:
            with self._locked():
                self._open()
        except OSError as error:
            raise DeletionListError(
                f"the deletion list {self.path} (or its key or lock beside it) cannot be "
                f"created or written: {error.strerror or type(error).__name__}; fix the path or "
                "set KERN_COACH_FORGOTTEN_FILE"
            ) from error

    def _open(self) -> None:
        lines = self._lines()
        listed = [line for line in lines if line.strip() and not line.startswith("#")]
        if listed and self._key is None and not self.key_path.exists():
            raise DeletionListError(
                f"the deletion list {self.path} has {len(listed)} line(s) but its key "
                f"{self.key_path} is missing: put the key back (from the backup of the list), "
                "or set KERN_COACH_FORGOTTEN_KEY to it; with a new key those people could come "
                "back with an old backup"
            )
        written = next((line for line in lines if line.startswith(HEADER)), None)
        matches = written is not None and written[len(HEADER) :].strip() == self.fingerprint()
        if listed and written is not None and not matches:
            raise DeletionListError(
                f"the deletion list {self.path} was written with another key than the one in "
                f"{'KERN_COACH_FORGOTTEN_KEY' if self._key_given else self.key_path}: use the "
                "key it was written with; with this one its people could come back with an old "
                "backup"
            )
        if not matches:  # a new or empty list, or one from before fingerprints: name the key
            self._write(self._entries(lines))
        else:  # can we still append (a full disk, a read-only file system)?
            os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND))

    def digest(self, channel: str, address: str) -> str:
        message = f"{channel}\n{address}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def add(self, channel: str, address: str, at: datetime) -> bool:
        """Written and flushed to disk before the deletion commits: a deletion the list does
        not know could come back with a restore. If the list cannot be written, the deletion
        still happens (the person asked for it) and the operator reads an error; False then."""
        try:
            line = f"{self.digest(channel, address)} {at.isoformat()}\n"
            with self._locked():
                new = not self.path.exists()
                if new:
                    self._write([])  # the fingerprint first
                descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(descriptor, line.encode())
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
        except OSError as error:
            log.error(
                "deletion list %s cannot be written (%s): this deletion is not on it, so a "
                "restore of an older backup would bring the person back",
                self.path,
                type(error).__name__,
            )
            return False
        return True

    def entries(self) -> list[Entry]:
        return self._entries(self._lines())

    def _lines(self) -> list[str]:
        try:
            return self.path.read_text(encoding="ascii").splitlines()
        except FileNotFoundError:
            return []

    @staticmethod
    def _entries(lines: list[str]) -> list[Entry]:
        found = []
        for number, line in enumerate(lines, 1):
            digest, _, moment = line.strip().partition(" ")
            if not digest or digest.startswith("#"):
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
                    store.delete_received_of(session, person.channel, person.address)
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
        with self._locked():  # read again under the lock: another process may have added
            current = self.entries()
            kept = [e for e in current if e.at > now - KEEP]
            if len(kept) < len(current):
                self._write(kept)
        return deleted

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock shared by every process that writes this list. It is a file of its
        own because `_write` replaces the list's file (a lock on it would lock the old one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        descriptor = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def _write(self, entries: list[Entry]) -> None:
        """The whole list, fingerprint first, replaced at once; the caller holds the lock."""
        temporary = self.path.with_name(self.path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(f"{HEADER}{self.fingerprint()}\n")
            file.writelines(f"{e.digest} {e.at.isoformat()}\n" for e in entries)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
        _sync_directory(self.path.parent)  # the new name survives a crash too


def _sync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


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
    _sync_directory(path.parent)
    return key
