"""The engine's named exceptions, of two kinds (as h11 has them).

Content that cannot run (a broken flow, text or crisis rule file) raises `ContentError`, with the
file, line and code of each problem; `flows check` finds the same before it ever runs. A mistake
of the caller (a bug in the shell or in a test, never a person's odd input) raises one of the
`EngineMisuse` exceptions, named for what went wrong. A person's odd input (a sticker, an old
button) is no error at all: an ordinary event with a kind answer.
"""

from __future__ import annotations

from flows.diagnostics import Problem


class ContentError(Exception):
    """Flows or texts are broken; carries every problem found, each with file, line and code."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


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
