"""Model manifest, execution providers, sessions and the engine that runs one model."""
