"""What a channel receives, kept before it is handled (`received_message`).

signal-cli hands each message over once. The channel keeps it here first, in its own commit,
then hands the row's id to `Coach.handle` as the update id (so the turn is recorded once, like a
Telegram update), then marks it handled, which empties what the person wrote from this table:
from then on it lives in their answers. A process that ended in between finds the message
waiting at its next start. Channels never import storage: they get this object.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.clock import Clock
from bot.storage import store
from bot.storage.store import Received, Store

__all__ = ["Inbox", "Received"]

# How long a handled message's key (sender and timestamp, no content) is kept, to recognise it
# if it is delivered again; no platform delivers one again this late.
KEEP_KEYS = timedelta(days=7)


class Inbox:
    def __init__(self, store_: Store, clock: Clock, channel: str) -> None:
        self.store = store_
        self.clock = clock
        self.channel = channel

    def keep(self, sender: str, sent_at: int, content: dict[str, Any]) -> int | None:
        """Keep one message (committed when this returns); its id to handle it by, or None
        when it was handled before."""
        with self.store.transaction() as session:
            return store.keep_received(
                session, self.channel, sender, sent_at, content, self.clock.now()
            )

    def handled(self, received_id: int) -> None:
        with self.store.transaction() as session:
            store.received_handled(session, received_id, self.clock.now())

    def waiting(self, limit: int = 1000) -> list[Received]:
        """What was kept and not handled, oldest first."""
        with self.store.transaction() as session:
            return store.received_waiting(session, self.channel, limit)

    def prune(self) -> int:
        with self.store.transaction() as session:
            return store.prune_received(session, self.channel, self.clock.now() - KEEP_KEYS)
