"""``python -m app`` is the ``knockout`` command."""

import sys

from app.cli import main

sys.exit(main())
