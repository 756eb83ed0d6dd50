"""`python -m bot` is `kern-coach`."""

import sys

from bot.cli import main

sys.exit(main())
