"""The batch path: files in, cutouts out. ``pipeline`` (decode → model → mask → render → write,
overlapped), ``inputs`` (what to cut), ``journal`` (resume, one run per folder), ``watch`` (the
polling hot folder) and ``export_service`` (the one export path every caller uses)."""
