"""The desktop app: ``window`` (pywebview), ``bridge`` (the thin js_api), ``server`` (loopback
pictures and events), ``jobs`` (the one worker), ``document`` (one photo being edited),
``hotfolder``, ``instance`` (single instance), ``events``, ``exporting``, ``mask_fixes``."""
