"""campaigns endpoints."""
