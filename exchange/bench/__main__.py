"""`python -m exchange.bench <name>`: the same as `exchange bench <name>`."""

from exchange.bench.commands import bench

bench(prog_name="python -m exchange.bench")
