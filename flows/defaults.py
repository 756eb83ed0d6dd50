"""What the coach assumes until the person says otherwise, in one place.

The state, the tables, the shell and the author's tools all read these names, so changing a
default is one line here. (Migrations keep the literal they were written with: a migration is
history, and the current default has no business rewriting it.)
"""

from __future__ import annotations

from datetime import time

# The chapter is Dutch: a person's zone until they name another with /tijd.
TIMEZONE = "Europe/Amsterdam"
# The daily check-in's time when an answer names no time the coach understands.
DAILY_TIME = time(20, 0)
# The time of day a plan is set for when the person names only a day ("vrijdag").
PLAN_TIME = time(19, 0)
# The hours in which check-ins wait for the morning (local), unless the person chose the moment.
QUIET_HOURS = "22:00-08:00"
# A pause to a day ("/pauze tot maandag", "/pauze 1 week") ends that morning.
PAUSE_ENDS_AT = time(8, 0)
