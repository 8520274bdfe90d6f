"""Benchmarks of tousu (make bench): see bench/README.md."""
