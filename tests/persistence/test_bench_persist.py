"""`exchange bench persist` runs end to end on a tiny workload and prints its figures (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.databases import SERVER_URL


def test_bench_persist_prints_rates_latencies_and_the_ceiling() -> None:
    command = [sys.executable, "-c", "from exchange.cli import main; main()", "bench", "persist"]
    command += ["--orders", "400", "--batch", "50", "--database-url", SERVER_URL]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["workload", "writer", "ceiling", "ratio"]
    assert "trades/s durable" in lines[1] and "p99" in lines[1]
    assert "copy_records_to_table" in lines[2]
