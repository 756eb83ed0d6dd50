"""Errors that stop a command with a message for the operator instead of a traceback."""

from __future__ import annotations


class RefusedToStart(Exception):
    """Starting would put someone at risk (for example bring back people who used /vergeet);
    the message says what is wrong and what to do, naming files and settings, never people."""
