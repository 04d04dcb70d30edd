"""Benchmarks: side-by-side ratios written to bench/results/<name>.json (never timed tests)."""
