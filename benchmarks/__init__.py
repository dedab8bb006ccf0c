"""Benchmarks: speed measured side by side with a reference tool, printed as ratios."""
