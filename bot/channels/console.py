"""The terminal: one local person chats with the coach, on the same path as every channel.

Buttons are shown as numbered lines (`[1] Verder`); typing the number or the label presses it,
under every kind of question (the first buttons say so). Lines that arrive together, a pasted
answer of several paragraphs or one write to a pipe, are one message; a command is always a
message of its own. Each message is printed and flushed as it is sent, so the console works the
same from a pipe; end of input ends it cleanly, and every turn is committed before its reply is
printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot.channels import numbered, plain_text
from bot.coach import Coach
from bot.outbox import Chart, Document, Item, Outgoing
from bot.scheduler import CheckinScheduler
from flows.events import ChoiceMade, CommandGiven, Event, Started, TextReceived, parse_command
from flows.messages import Button
from flows.safety import SafetyCheck

CHANNEL = "console"
ADDRESS = "local"
INDENT = "        "
# Where /export puts its files: a folder only the person can read, emptied by /vergeet.
EXPORT_FOLDER = "kern-coach-export"
# Lines that follow each other this closely were not typed one by one: a person typing waits
# for the coach's reply, while a terminal delivers a paste, and a pipe one write, within
# milliseconds. A quarter of a second is far above the one and far below the other.
PASTE_GAP = 0.25
UTC_ZONE = ZoneInfo("UTC")  # the terminal's own texts name no time

log = logging.getLogger(__name__)


class ConsoleChannel:
    def __init__(
        self,
        coach: Coach,
        *,
        lang: str | None,
        stdin: TextIO = sys.stdin,
        stdout: TextIO = sys.stdout,
        export_dir: Path | None = None,
    ):
        self.coach = coach
        self.lang = lang
        self.stdin = stdin
        self.stdout = stdout
        self.export_dir = export_dir or Path.cwd() / EXPORT_FOLDER
        self.buttons: list[Button] = []  # the buttons of the last message, numbered from 1
        self.person_lang = lang  # the language of what is being printed
        self.told_how = False  # whether the terminal said what typing a number does
        self.scheduler = CheckinScheduler(coach, on_delivered=self.flush)
        self.outbox = coach.outbox(CHANNEL, lease=False)  # one terminal, one process
        self._printing = asyncio.Lock()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        def read_lines() -> None:
            # A daemon thread: a pending read never keeps the process from ending.
            for line in self.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)

        stop = asyncio.Event()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, stop.set)  # Ctrl-C: finish the turn, then end
        threading.Thread(target=read_lines, daemon=True).start()
        self.scheduler.start()
        try:
            known = await asyncio.to_thread(self.known_language)
            self.say("common:console.how-to-leave", known or self.lang)
            await self.send(Started(language=self.lang))
            if self.lang and known not in (None, self.lang):
                await self.send(CommandGiven(name="language", argument=self.lang))
            # The crisis check (rules, model, examples) gets ready while the first message is
            # read; the first typed text waits for it, a button does not need it.
            safety_check = self.coach.library.safety
            ready = (
                asyncio.ensure_future(asyncio.to_thread(safety_check.warm))
                if isinstance(safety_check, SafetyCheck)
                else None
            )
            while not stop.is_set():
                line = await _first(lines.get(), stop.wait())
                if line is None or stop.is_set():  # end of input, or Ctrl-C
                    break
                batch = [line.rstrip("\n")]
                ended = False
                while True:  # the lines that arrived with it
                    try:
                        more = await asyncio.wait_for(lines.get(), PASTE_GAP)
                    except TimeoutError:
                        break
                    if more is None:
                        ended = True
                        break
                    batch.append(more.rstrip("\n"))
                for text in messages_of(batch):
                    event = self.event_for(text)
                    if isinstance(event, TextReceived) and ready is not None:
                        await ready
                    if event is not None:
                        await self.send(event)
                if ended:
                    break
            if ready is not None:
                await ready  # a thread cannot be cancelled: let it finish before the loop ends
        finally:
            await self.scheduler.stop()

    def known_language(self) -> str | None:
        """The language of the person who used this terminal before, if anyone did."""
        return self.coach.language_of(CHANNEL, ADDRESS)

    def event_for(self, line: str) -> Event | None:
        text = line.strip()
        if not text:
            return None
        if text.startswith("/"):
            return parse_command(text) or TextReceived(text=text)
        button = numbered.pressed(text, self.buttons)  # the prompt says what a number does
        if button is not None:
            return ChoiceMade(token=button.token)
        return TextReceived(text=line)

    async def send(self, event: Event) -> None:
        handled = await asyncio.to_thread(self.coach.handle, CHANNEL, ADDRESS, event)
        if handled.deleted:  # /vergeet: the exported files go too
            shutil.rmtree(self.export_dir, ignore_errors=True)
        await self.flush()
        if handled.plans_changed:
            await self.scheduler.rearm()

    async def flush(self) -> None:
        """Print every waiting message for this terminal, oldest first."""
        async with self._printing:
            while True:
                batch = await asyncio.to_thread(self._take_batch)
                if not batch:
                    return

    def _take_batch(self) -> list[Outgoing]:
        """Print what is ready, then let the outbox forget it."""
        batch = [o for o in self.outbox.take(20) if o.address == ADDRESS]
        if batch:
            self.person_lang = self.coach.language_of(CHANNEL, ADDRESS) or self.lang
        for outgoing in batch:
            self.show(outgoing.item, self.person_lang or "nl")
        self.outbox.sent([o.id for o in batch])
        return batch

    def show(self, item: Item, lang: str = "nl") -> None:
        if isinstance(item, Document):
            path = self.export(item)
            self.stdout.write(f"\ncoach › ({path})\n")
            self.stdout.flush()
            return
        if isinstance(item, Chart):  # the chart as lines of dots
            lines = plain_text.render_balance(item.as_json()).splitlines()
            self.stdout.write(
                "\n".join([f"\ncoach › {lines[0]}", *(INDENT + x for x in lines[1:])])
            )
            self.stdout.write("\n")
            self.stdout.flush()
            return
        message = item
        lines = plain_text.render(message).splitlines() or [""]
        out = [f"\ncoach › {lines[0]}"] + [f"{INDENT}{line}".rstrip() for line in lines[1:]]
        self.buttons = numbered.flat(message.buttons)
        if message.buttons:
            number = 0
            for row in message.buttons:
                labels = []
                for button in row:
                    number += 1
                    labels.append(f"[{number}] {plain_text.safe(button.label)}")
                out.append(INDENT + "   ".join(labels))
            if not self.told_how:  # once: what a number and a paste do
                how = self.coach.library.texts.plain(lang, "common:console.how", UTC_ZONE).strip()
                out.append(f"{INDENT}({how})")
                self.told_how = True
        self.stdout.write("\n".join(out) + "\n")
        self.stdout.flush()

    def export(self, document: Document) -> Path:
        """Write an exported file into the private folder (0700, the file 0600: it holds what
        the person wrote); the readable one says where they are."""
        folder = self.export_dir
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        path = folder / document.filename
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # written anew, never through an older file's permissions
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(document.content)
        if path.suffix == ".txt":  # the readable file comes first
            self.say("common:console.export-saved", self.person_lang, folder=folder)
        return path

    def say(self, key: str, lang: str | None, **context: Any) -> None:
        """One of the terminal's own lines, in the person's language."""
        texts = self.coach.library.texts
        words = texts.plain(lang or "nl", key, ZoneInfo("Europe/Amsterdam"), **context)
        self.stdout.write(f"\n({words})\n")
        self.stdout.flush()


def messages_of(lines: list[str]) -> list[str]:
    """Lines that arrived together as messages: the text lines as one (blank lines between
    paragraphs kept), each command on its own."""
    messages: list[str] = []
    words: list[str] = []
    for line in lines:
        if line.strip().startswith("/"):
            messages += ["\n".join(words).strip("\n")] if words else []
            messages.append(line)
            words = []
        else:
            words.append(line)
    if words:
        messages.append("\n".join(words).strip("\n"))
    return [m for m in messages if m.strip()]


async def _first(*awaitables: Awaitable[Any]) -> Any:
    """The result of whichever finishes first; the others are cancelled."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return next(iter(done)).result()
