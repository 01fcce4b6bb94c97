"""倒查追责 findings by unit and person (placeholder until built)."""
