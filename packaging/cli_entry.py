"""Frozen entry point of the console executable ``knockout`` (same as the ``knockout`` script)."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
