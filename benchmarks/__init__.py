"""Benchmarks: a seeded generator of realistic histories and measurements against baselines (not tests)."""
