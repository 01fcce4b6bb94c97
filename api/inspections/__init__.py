"""inspections endpoints."""
