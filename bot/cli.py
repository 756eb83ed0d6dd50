"""The command line `kern-coach`: parses arguments and calls the library."""

import sys


def main(argv: list[str] | None = None) -> int:
    print("kern-coach: not built yet", file=sys.stderr)
    return 1
