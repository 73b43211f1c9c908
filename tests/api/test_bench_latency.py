"""`exchange bench latency` runs end to end on short rounds and prints its figures (no timing asserted)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support.databases import SERVER_URL

STAGES = ("parse_verify", "queue", "engine", "write_build", "commit", "reply", "fanout")


def test_bench_latency_prints_the_floors_the_orders_and_where_the_time_goes() -> None:
    command = [sys.executable, "-c", "from exchange.cli import main; main()", "bench", "latency"]
    command += ["--seconds", "1", "--database-url", SERVER_URL]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["floor", "floor", "orders", "orders", "ratio", "stages"]
    assert "bare single-row commit" in lines[1] and "bare HTTP round trip" in lines[2]
    assert all("(0 errors)" in line for line in lines[3:5]), lines
    measured = dict(re.findall(r"(\w+) (\d+)(?:,|$)", lines[6].split(": ", 1)[1]))
    assert set(measured) == set(STAGES), lines[6]
    assert int(measured["commit"]) > 0 and int(measured["parse_verify"]) > 0
