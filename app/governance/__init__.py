"""What IT and teams decide: ``policy`` (and ``policy_sources``), ``settings`` (and
``settings_schema``), ``presets``, ``audit``, ``retention`` (temporary files) and
``netguard`` (loopback only)."""
