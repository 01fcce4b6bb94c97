"""hazard context."""
