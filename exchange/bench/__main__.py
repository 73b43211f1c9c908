"""`python -m exchange.bench <name>`: the same as `exchange bench <name>`."""

from exchange.cli import bench

bench(prog_name="python -m exchange.bench")
