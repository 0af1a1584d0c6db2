"""Benchmarks of the expiry sweep on Azurite and the in-process Graph emulator (`make bench`).

Run from the project root: `python -m bench.sweep_throughput`, `python -m bench.sweep_scaling`.
See docs/benchmarks.md."""
