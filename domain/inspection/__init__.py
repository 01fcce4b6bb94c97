"""inspection context."""
