"""Performance suite: ``python -m benchmarks`` (``make bench``) runs every ``bench_*`` module."""
