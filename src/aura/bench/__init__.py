"""Benchmarks behind ``aura bench ...`` (results recorded in docs/benchmarks.md)."""
