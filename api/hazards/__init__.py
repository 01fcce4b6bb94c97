"""hazards endpoints."""
