"""Buttons for channels without buttons (the terminal, Signal): numbered, and picked by typing
the number or the label. One rule for both, so a person finds the same thing on each."""

from __future__ import annotations

from collections.abc import Sequence

from flows.messages import Button


def flat(rows: Sequence[Sequence[Button]]) -> list[Button]:
    """The buttons of a message in reading order: number 1 is the first."""
    return [button for row in rows for button in row]


def pressed(text: str, buttons: Sequence[Button]) -> Button | None:
    """The button a typed line stands for: its number (under every kind of question, so "1"
    under "[1] Klaar" ends a list rather than becoming an entry) or its label, in any case."""
    typed = text.strip()
    if typed.isdecimal() and 1 <= int(typed) <= len(buttons):
        return buttons[int(typed) - 1]
    for button in buttons:
        if typed.casefold() == button.label.casefold():
            return button
    return None
