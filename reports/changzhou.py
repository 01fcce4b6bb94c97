"""changzhou reports (being built)."""
