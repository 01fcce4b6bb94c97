"""dossier reports (being built)."""
