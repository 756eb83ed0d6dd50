"""What a button carries back when it is pressed: the run, the step and the option it answers.

One format for every channel, `run:step:option`, written by the engine and read back by the
engine, the console, the transcript and the tests. Buttons already sent (in a chat, in the outbox)
carry this format, so it must keep reading what earlier versions wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

SEPARATOR = ":"
# The tightest limit of any channel on what a button carries: 64 bytes of callback data.
LIMIT = 64

# Options of the engine's own buttons, next to the flow's option ids.
SKIP, DONE, NEXT, RESUME = "_skip", "_done", "_next", "_resume"
# The run part of the tokens of the engine's own questions (confirm /vergeet, pick a language, …).
PROMPT_RUN = "x"


class TokenTooLong(ValueError):
    """A button would carry more than LIMIT bytes: a bug, as `flows check` rejects such ids."""


@dataclass(frozen=True, kw_only=True)
class Token:
    run: str
    step: str
    option: str

    def __str__(self) -> str:
        return f"{self.run}{SEPARATOR}{self.step}{SEPARATOR}{self.option}"

    def fits(self) -> bool:
        """Whether every channel can carry it."""
        text = str(self)
        # A character is at most 4 bytes: short tokens need no encoding to be known to fit.
        return len(text) * 4 <= LIMIT or len(text.encode()) <= LIMIT

    def format(self) -> str:
        """The button's data."""
        if not self.fits():
            raise TokenTooLong(f"button data over {LIMIT} bytes: {self}")
        return str(self)

    @classmethod
    def parse(cls, data: str) -> Token | None:
        """The token in a pressed button's data; None for data no version of the coach wrote.
        Read from the left: run ids and step ids hold no separator, an option may."""
        run, _, rest = data.partition(SEPARATOR)
        step, found, option = rest.partition(SEPARATOR)
        if not found:
            return None
        return cls(run=run, step=step, option=option)


def option_of(data: str) -> str | None:
    """The option a button's data names (None for data no version wrote): what a reader of
    buttons (the console's numbers, the transcript, tests) usually wants to know."""
    token = Token.parse(data)
    return token.option if token is not None else None
