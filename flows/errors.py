"""Mistakes of the caller: a bug in the shell or in a test, never a person's odd input.

A person's odd input (a sticker, an old button) is an ordinary event with a kind answer; a broken
author file is a `flows.diagnostics.ContentError`, caught by `flows check` before it runs. What is
left is code that uses the engine wrongly; it raises one of these, named for what went wrong.
"""

from __future__ import annotations


class EngineMisuse(Exception):
    """The engine was called in a way it does not support: fix the caller."""


class UnknownEvent(EngineMisuse):
    """`advance` was given something that is not one of `flows.events`."""


class NaiveTime(EngineMisuse):
    """`now` carries no time zone: the engine cannot tell which moment it is."""


class FlowLoops(EngineMisuse):
    """A flow moved through more steps than one event may cause, without waiting for the
    person. `flows check` should have caught it; the turn stops rather than hang."""


class UnknownStateVersion(EngineMisuse):
    """A stored state was written by a newer version of the code than this one."""


class UnknownCommand(EngineMisuse):
    """A command name that is not one of `flows.events.COMMANDS` (a flow file's option is
    checked by `flows check`, a typed one by `parse_command`)."""
