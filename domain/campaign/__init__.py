"""campaign context."""
