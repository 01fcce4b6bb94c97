"""What a Django team would build instead: one hazard model, a DRF view, django-simple-history for the history."""
