"""Benchmarks: each prints JSON lines ``{"bench", "metric", "value", "unit"}``; nothing here asserts."""
