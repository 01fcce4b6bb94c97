"""Report endpoints (DESIGN §7) and report submissions."""
