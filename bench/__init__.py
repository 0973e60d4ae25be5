"""Benchmarks that print tables (run as modules, e.g. `python -m bench.ingest`)."""
