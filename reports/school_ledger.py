"""school_ledger reports (being built)."""
