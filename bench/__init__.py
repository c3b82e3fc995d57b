"""newsworker's benchmark harness: `python bench/run.py [--quick]` (see docs/BENCHMARKS.md)."""
