"""Benchmarks: runnable scripts, not tests; results go to bench/results/ (git-ignored)."""
