"""The product's settings and URLs plus one plain Django upload view, for ``benchmarks.uploads`` only."""
