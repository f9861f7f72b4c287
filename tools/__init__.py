"""Scripts run from a checkout (not installed)."""
