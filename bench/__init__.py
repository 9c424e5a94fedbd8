"""Benchmarks that print figures (design.md §2); never run as tests, except ``generation --tiny`` as a smoke test."""
