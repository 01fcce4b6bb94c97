"""The hazard read model, in one place: its tables (``rows``: the ledger 台账 and the bitemporal history), the one
projector that writes them (``projector``: a handler per hazard event class), the hazards' 序号 (``numbers``) and
the queries over the history (``queries``)."""
