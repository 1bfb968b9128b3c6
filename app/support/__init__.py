"""What IT runs to check a machine: ``diagnose`` (the report) and ``selftest`` (a real cutout)."""
